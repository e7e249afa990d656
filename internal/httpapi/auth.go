package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorize checks the API key when keys are configured: X-API-Key, Authorization:
// Bearer, or HTTP Basic with the key as password.
func (a *Server) authorize(p protocol, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.cfg.Keys) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		if k := a.keyIndex(r); k >= 0 {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyIndexCtx{}, k)))
			return
		}
		status := http.StatusUnauthorized
		if p == protoDNSDB {
			status = http.StatusForbidden // what DNSDB clients expect for a bad key
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="passivedns"`)
		}
		msg := "missing or wrong API key: send X-API-Key, Authorization: Bearer, or Basic with the key as password"
		if p == protoDNSDB {
			dnsdbFail(w, status, msg)
			return
		}
		writeError(w, status, "", msg)
	})
}

// keyIndex is the index of the configured key the request carries, -1 for none. Every
// key is compared, in constant time.
func (a *Server) keyIndex(r *http.Request) int {
	var given []string
	if k := r.Header.Get("X-API-Key"); k != "" {
		given = append(given, k)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if k, ok := strings.CutPrefix(auth, "Bearer "); ok {
			given = append(given, strings.TrimSpace(k))
		}
	}
	if _, pw, ok := r.BasicAuth(); ok {
		given = append(given, pw)
	}
	found := -1
	for _, g := range given {
		sum := sha256.Sum256([]byte(g))
		for i, k := range a.cfg.Keys {
			if subtle.ConstantTimeCompare(sum[:], k[:]) == 1 {
				found = i
			}
		}
	}
	return found
}

// keyIndexCtx carries keyIndex in the request's context.
type keyIndexCtx struct{}
