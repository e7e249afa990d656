// Package webui is the analyst's page of the history API: one HTML page, its script and its
// style sheet, embedded in the binary so that the page works without any other host. The page
// talks to the native API (/api/v1/) of the listener that serves it, with the key the analyst
// types in once (kept in the browser's session storage, sent as X-API-Key).
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var static embed.FS

// Paths the page is served at. Handler answers these and 404 for anything else; the API
// listener routes "GET /{$}" and "GET /ui/" to it, without a key: the page holds no data.
const (
	IndexPath  = "/"
	AssetsPath = "/ui/"
)

// csp allows the page its own script, style and API and nothing else: no inline script, no
// other host, no framing. Blob URLs are the client-side CSV and JSON downloads.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets maps a request path to its file: "/" and "/ui/" to the page, "/ui/NAME" to the rest.
var assets = func() map[string]asset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	m := map[string]asset{}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		a := asset{body: b, ctype: types[path.Ext(e.Name())], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		m[AssetsPath+e.Name()] = a
	}
	m[IndexPath] = m[AssetsPath+"index.html"]
	m[AssetsPath] = m[IndexPath]
	return m
}()

// Handler serves the page at "/" (and "/ui/") and its assets under "/ui/". Every answer may
// be cached but must be revalidated (no-cache with an ETag of the content): a new binary
// serves a new page at once, an unchanged one answers 304.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if !ok {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("404 page not found: the page is at /\n"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
