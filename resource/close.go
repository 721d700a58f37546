package resource

// CloseIdleConnections closes the connections the Resource keeps open,
// idle, to the issuers it fetched metadata and keys from, as
// http.Client's CloseIdleConnections does; later fetches open new ones.
// Call it when the server shuts down, or a test tears down, so that no
// connection (and no goroutine serving one) outlives the server. With
// Resource.Client set, it closes that client's idle connections.
func (rs *Resource) CloseIdleConnections() {
	if c := rs.compiled.ptr.Load(); c != nil {
		c.fetch.closeIdle()
	}
}
