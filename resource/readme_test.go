package resource_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aauthgo/aauth/resource"
)

// TestReadmeSnippet runs the "Protect a resource" snippet of README.md
// (with a recorder for the server): an unsigned request is refused.
func TestReadmeSnippet(t *testing.T) {
	var caller *resource.Caller
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ = resource.FromContext(r.Context())
	})
	rs := &resource.Resource{Issuer: "https://api.example"}
	h := rs.Require(handler)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://api.example/data", nil))
	if rec.Code != http.StatusUnauthorized || caller != nil {
		t.Fatalf("status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://api.example/.well-known/aauth-resource.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metadata: %d", rec.Code)
	}
}
