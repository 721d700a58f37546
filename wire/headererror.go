package wire

// HeaderError reports an AAuth header (other than AAuth-Requirement) whose
// value cannot be used. Its message never contains the value.
type HeaderError struct {
	Header string // canonical name, such as "AAuth-Access"
	Reason string // what is wrong, in a few words
	Err    error  // the underlying syntax error, if any
}

// Error returns "aauth: invalid <Header> header: <Reason>".
func (e *HeaderError) Error() string {
	s := "aauth: invalid " + e.Header + " header: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying syntax error, if any.
func (e *HeaderError) Unwrap() error { return e.Err }
