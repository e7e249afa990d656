package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Occupy takes n query slots as n running queries would, and returns what frees them.
// Tests use it to see the API at its concurrency limit.
func (a *Server) Occupy(n int) (release func()) {
	for range n {
		a.limit <- struct{}{}
	}
	return func() {
		for range n {
			<-a.limit
		}
	}
}

// authorize checks the API key when keys are configured: X-API-Key, Authorization:
// Bearer, or HTTP Basic with the key as password.
func (a *Server) authorize(p protocol, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.keysSet() || a.keyOK(r, a.cfg.Keys) || a.keyOK(r, a.cfg.ClientKeys) {
			h.ServeHTTP(w, r)
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

func (a *Server) keysSet() bool { return len(a.cfg.Keys) > 0 || len(a.cfg.ClientKeys) > 0 }

// authorizeClients lets only clients_api_key keys read client addresses: another valid
// key gets 403, no valid key 401. Without any keys (loopback only) everything is open.
func (a *Server) authorizeClients(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !a.keysSet() || a.keyOK(r, a.cfg.ClientKeys):
			h.ServeHTTP(w, r)
		case a.keyOK(r, a.cfg.Keys):
			writeError(w, http.StatusForbidden, "", "client addresses are personal data: this key may not read them (only keys listed in clients_api_key may)")
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="passivedns"`)
			writeError(w, http.StatusUnauthorized, "", "missing or wrong API key: send X-API-Key, Authorization: Bearer, or Basic with the key as password")
		}
	})
}

func (a *Server) keyOK(r *http.Request, keys [][32]byte) bool {
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
	ok := 0
	for _, g := range given {
		sum := sha256.Sum256([]byte(g))
		for _, k := range keys {
			ok |= subtle.ConstantTimeCompare(sum[:], k[:])
		}
	}
	return ok == 1
}

// bounded lets apiMaxConcurrent requests query at once; the others are refused at
// once, with 503 (DNSDB: too many concurrent queries) or 429.
func (a *Server) bounded(p protocol, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.limit <- struct{}{}:
			defer func() { <-a.limit }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			if p == protoDNSDB {
				dnsdbFail(w, http.StatusServiceUnavailable, "too many concurrent queries")
				return
			}
			writeError(w, http.StatusTooManyRequests, "", "too many concurrent queries; retry shortly")
		}
	})
}
