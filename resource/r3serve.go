package resource

import (
	"net/http"
	"strconv"
	"strings"
)

// serveR3 answers a fetch of an R3 document or per-call proposal (R3 §R3
// Document Access Restriction): only a person server or access server
// that a resource token referencing it was issued to, signing with its
// own key, gets the bytes, exactly as they were hashed.
func (c *config) serveR3(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		c.problem(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	id, e := c.verifyServer(r, r3DocumentFetch)
	if e != nil {
		c.refuseServer(w, r, e)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, c.r3.path)
	var (
		body   []byte
		known  bool
		mayGet bool
	)
	if callID, ok := strings.CutPrefix(name, callPathSegment); ok {
		if rec := c.r3.calls.get(callID); rec != nil {
			known, body = true, rec.enc.Bytes
			for _, p := range rec.entitled {
				mayGet = mayGet || p == id
			}
		}
	} else if len(name) == s256Len {
		if d := c.r3.docs.get(name); d != nil && d.uri == c.r3.prefix+name {
			known, body = true, d.enc.Bytes
			mayGet = c.r3.docs.mayFetch(d, id)
		}
	}
	switch {
	case !known:
		c.problem(w, http.StatusNotFound, "not_found", "no such R3 document")
		return
	case !mayGet:
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: "not_entitled", Detail: "no resource token referencing this document was issued to the signer"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// The bytes are the document: nothing on the way may re-serialise,
	// compress or cache them for others.
	h.Set("Cache-Control", "private, no-transform")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}
