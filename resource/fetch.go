package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
)

// Bounds on what the resource fetches.
const (
	maxMetadataBody = 64 << 10  // a metadata document
	maxJWKSBody     = 256 << 10 // a JWK Set
	maxRedirects    = 3
	defaultFetchTTL = time.Hour
	fetchTimeout    = 10 * time.Second
)

// fetcher GETs JSON documents under the egress rules.
type fetcher struct {
	client   *http.Client
	insecure bool
	timeout  time.Duration
}

// newFetcher returns a fetcher using client, or, when client is nil, a
// client of its own that dials only what the egress rules allow.
func newFetcher(client *http.Client, allowInternal, insecure bool, timeout time.Duration, lookup lookupFunc) *fetcher {
	if timeout <= 0 {
		timeout = fetchTimeout
	}
	f := &fetcher{client: client, insecure: insecure, timeout: timeout}
	if client == nil {
		d := &guardedDialer{lookup: lookup, allowInternal: allowInternal || insecure}
		d.dialer.Timeout = timeout
		tr := &http.Transport{
			Proxy:                  nil, // a proxy would dial for us, past the guard
			DialContext:            d.DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           16,
			IdleConnTimeout:        30 * time.Second,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
		}
		f.client = &http.Client{Transport: tr}
	}
	return f
}

// closeIdle drops idle connections.
func (f *fetcher) closeIdle() { f.client.CloseIdleConnections() }

// getJSON fetches rawURL and decodes its JSON body, at most limit bytes,
// into v. It returns how long the document may be cached by its
// Cache-Control (0 when it says nothing).
func (f *fetcher) getJSON(ctx context.Context, rawURL string, limit int64, v any) (time.Duration, error) {
	u, err := checkFetchURL(rawURL, f.insecure)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	client := *f.client
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errors.New("too many redirects")
		}
		_, err := checkFetchURL(next.URL.String(), f.insecure)
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", shorten(rawURL), safetext.ShortURLError(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d", shorten(rawURL), resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("GET %s: %d bytes, more than %d", shorten(rawURL), resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", shorten(rawURL), safetext.ShortURLError(err))
	}
	if int64(len(body)) > limit {
		return 0, fmt.Errorf("GET %s: more than %d bytes", shorten(rawURL), limit)
	}
	if err := json.Unmarshal(body, v); err != nil || !isObject(body) {
		return 0, fmt.Errorf("GET %s: not a JSON object of the expected shape", shorten(rawURL))
	}
	return maxAge(resp.Header), nil
}

// maxAge reads Cache-Control: no-store and no-cache give 0 (use the
// minimum), max-age=N gives N seconds; anything else 0.
func maxAge(h http.Header) time.Duration {
	for _, line := range h.Values("Cache-Control") {
		if len(line) > 1024 {
			return 0
		}
		for _, d := range strings.Split(line, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return 0
			case strings.HasPrefix(d, "max-age="):
				n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
				if err != nil || n <= 0 {
					return 0
				}
				if n > 1<<31 {
					n = 1 << 31
				}
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

// isObject reports whether b, which decoded without error, is a JSON
// object (and not null, which encoding/json accepts for a struct).
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
