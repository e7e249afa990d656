package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/webui"

	"net/http"
	"strings"
)

// protocol decides the shape of errors and the status of an overload.
type protocol int

const (
	protoNative protocol = iota
	protoDNSDB
	protoCOF
)

func (a *Server) handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, p protocol, auth bool, h http.HandlerFunc) {
		var hh http.Handler = h
		if auth {
			hh = a.authorize(p, a.bounded(p, hh))
		}
		mux.Handle(pattern, instrument(p, hh))
	}
	route("GET /api/v1/openapi.json", protoNative, false, serveOpenAPI)
	route("GET /api/v1/name/{name}", protoNative, true, a.nativeByName(history.TableByName, nativeHistoryJSON))
	route("GET /api/v1/ip/{ip...}", protoNative, true, a.nativeIP)
	route("GET /api/v1/rdata/{name}", protoNative, true, a.nativeByName(history.TableByRdata, nativeHistoryJSON))
	route("GET /api/v1/negative/{name}", protoNative, true, a.nativeByName(history.TableNegative, nativeNegativeJSON))
	route("GET /api/v1/asof/{name}", protoNative, true, a.nativeAsOf)
	route("GET /api/v1/pivot/{name}", protoNative, true, a.nativePivot)
	route("POST /api/v1/bulk", protoNative, true, a.nativeBulk)
	route("GET /dnsdb/v2/ping", protoDNSDB, false, dnsdbPing)
	route("GET /dnsdb/v2/rate_limit", protoDNSDB, true, a.dnsdbRateLimit)
	route("GET /dnsdb/v2/{mode}/{rest...}", protoDNSDB, true, a.dnsdbLookup)
	route("GET /pdns/query/{value...}", protoCOF, true, a.cofQuery)
	// The analyst's page: public, it holds no data; its API calls need the key.
	mux.Handle("GET /{$}", webui.Handler())
	mux.Handle("GET /ui/", webui.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// This pattern takes every method, so the mux never answers 405 itself.
		if allow := allowedMethods(mux, r); allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" not allowed here: use "+allow)
			return
		}
		writeError(w, http.StatusNotFound, "", "no such endpoint: see /api/v1/openapi.json, /dnsdb/v2/ and /pdns/query/")
	})
	a.extraMu.Lock()
	for _, e := range a.extra {
		if e.auth {
			mux.Handle(e.pattern, a.authorize(protoNative, e.h))
		} else {
			mux.Handle(e.pattern, e.h)
		}
	}
	a.extraMu.Unlock()
	return a.recoverer(mux)
}

// allowedMethods lists the methods that another pattern of mux serves for r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := mux.Handler(r2); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// recoverer turns a panic into a 500 without a stack trace in the answer.
func (a *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Errorf("History API: panic serving %s: %v", r.URL.Path, v)
				writeError(w, http.StatusInternalServerError, "", "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}
