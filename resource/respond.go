package resource

import (
	"cmp"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/wire"
)

// problem writes an error body in the profile's format: RFC 9457
// application/problem+json with error and detail (current), or the seed
// generation's application/json {"error","error_description"}.
func (c *config) problem(w http.ResponseWriter, status int, code, detail string) {
	var body []byte
	var err error
	if c == nil || !c.seed {
		body, err = jsonx.Marshal(map[string]any{
			"type":   "about:blank",
			"title":  http.StatusText(status),
			"status": status,
			"error":  code,
			"detail": detail,
		})
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		body, err = jsonx.Marshal(map[string]any{"error": code, "error_description": detail})
		w.Header().Set("Content-Type", "application/json")
	}
	if err != nil {
		body, status = []byte(`{"error":"server_error"}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// refuse answers a refused request. A 401 carries Signature-Error (the
// header, not the body, is authoritative), the Accept-Signature-* header
// the code calls for, and the resource's clock in Date, from which an
// agent corrects clock_skew. Other statuses carry none of them: a 403
// never has Signature-Error or Accept-Signature-*.
func (c *config) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	if e.Status == http.StatusUnauthorized {
		h.Set("Signature-Error", formatSignatureError(e.Code, e.RequiredInput))
		switch e.Code {
		case codeUnsupportedSch:
			h.Set("Accept-Signature-Scheme", cmp.Or(e.schemes, strings.Join(c.schemes, ", ")))
		case codeUnsupportedAlg:
			h.Set("Accept-Signature-Alg", strings.Join(c.algs, ", "))
		}
		if e.requirement != "" {
			if v, err := formatRequirement(e.requirement, "", "", ""); err == nil {
				h.Set("AAuth-Requirement", v)
			}
		}
		if e.requirement == "agent-token" {
			// Not signed at all: say what would be accepted.
			h.Set("Accept-Signature-Scheme", strings.Join(c.schemes, ", "))
			h.Set("Accept-Signature-Alg", strings.Join(c.algs, ", "))
		}
		h.Set("Date", c.rs.now().UTC().Format(http.TimeFormat))
		h.Set("Link", c.linkValue)
	}
	if l := c.rs.Logger; l != nil {
		l.LogAttrs(r.Context(), logLevel(e), "aauth: request refused",
			slog.String("method", r.Method), slog.String("path", shorten(r.URL.Path)),
			slog.Int("status", e.Status), slog.String("code", e.Code), slog.String("detail", e.Error()))
	}
	c.problem(w, e.Status, e.Code, e.Detail)
}

// challenge answers 401 with an AAuth-Requirement.
func (c *config) challenge(w http.ResponseWriter, requirement, resourceToken, problemCode, detail string) {
	c.challengeWith(w, wire.Challenge{Requirement: wire.Requirement(requirement), ResourceToken: resourceToken}, problemCode, detail)
}

// challengeWith answers 401 with the AAuth-Requirement ch, which may
// carry parameters (such as the Budgets draft's reason).
func (c *config) challengeWith(w http.ResponseWriter, ch wire.Challenge, problemCode, detail string) {
	v, err := wire.FormatRequirement(ch)
	if err != nil {
		c.problem(w, http.StatusInternalServerError, "server_error", "cannot format the requirement")
		return
	}
	h := w.Header()
	h.Set("AAuth-Requirement", v)
	h.Set("Link", c.linkValue)
	c.problem(w, http.StatusUnauthorized, problemCode, detail)
}

// deny answers 403: the caller is known and refused.
func (c *config) deny(w http.ResponseWriter, code, detail string) {
	c.problem(w, http.StatusForbidden, code, detail)
}

// misconfigured answers a request to a Resource that cannot serve.
func misconfigured(w http.ResponseWriter, err error) {
	(*config)(nil).problem(w, http.StatusInternalServerError, "server_error", err.Error())
}
