package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler checks what each path answers: the page and its assets with their types and
// the headers that keep the page to its own host, 304 on a matching ETag, 404 elsewhere.
func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, method string
		status       int
		ctype, body  string
	}{
		{"/", "GET", 200, "text/html; charset=utf-8", `<script src="/ui/app.js"`},
		{"/ui/", "GET", 200, "text/html; charset=utf-8", `<form id="search"`},
		{"/ui/app.js", "GET", 200, "text/javascript; charset=utf-8", "X-API-Key"},
		{"/ui/app.css", "GET", 200, "text/css; charset=utf-8", ".node"},
		{"/ui/index.html", "HEAD", 200, "text/html; charset=utf-8", ""},
		{"/ui/nothing.js", "GET", 404, "text/plain; charset=utf-8", "the page is at /"},
		{"/ui/../webui.go", "GET", 404, "text/plain; charset=utf-8", ""},
		{"/", "POST", 405, "text/plain; charset=utf-8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "http://127.0.0.1/", nil)
			req.URL.Path = tc.path // as the mux gives it, without cleaning
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q:\n%.300s", tc.body, rec.Body.String())
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if tc.status != 200 {
				return
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("ETag") == "" {
				t.Errorf("Cache-Control %q, ETag %q: want no-cache with an ETag", rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"))
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/app.js", nil))
	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest("GET", "/ui/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("If-None-Match %s: status %d with %d bytes, want 304 and none", etag, rec.Code, rec.Body.Len())
	}
}

// TestNoOtherHost keeps the page to its own host: no absolute URL in what it loads or runs.
func TestNoOtherHost(t *testing.T) {
	for name, a := range assets {
		body := string(a.body)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			// The SVG namespace is a name, not a request.
			if strings.Contains(strings.ReplaceAll(body, "http://www.w3.org/2000/svg", ""), bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}
