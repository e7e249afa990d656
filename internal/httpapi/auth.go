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
		if !a.keysSet() {
			h.ServeHTTP(w, r)
			return
		}
		k := a.keyIndex(r, a.cfg.Keys)
		if k < 0 {
			if c := a.keyIndex(r, a.cfg.ClientKeys); c >= 0 {
				k = len(a.cfg.Keys) + c // a clients key reads everything else too
			}
		}
		if k >= 0 {
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

func (a *Server) keysSet() bool { return len(a.cfg.Keys) > 0 || len(a.cfg.ClientKeys) > 0 }

// authorizeClients lets only clients_api_key keys read client addresses: another valid
// key gets 403, no valid key 401. Without any keys (loopback only) everything is open.
// A clients key counts after the api_key keys in the per-key shares.
func (a *Server) authorizeClients(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.keysSet() {
			h.ServeHTTP(w, r)
			return
		}
		if c := a.keyIndex(r, a.cfg.ClientKeys); c >= 0 {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyIndexCtx{}, len(a.cfg.Keys)+c)))
			return
		}
		if a.keyIndex(r, a.cfg.Keys) >= 0 {
			writeError(w, http.StatusForbidden, "", "client addresses are personal data: this key may not read them (only keys listed in clients_api_key may)")
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="passivedns"`)
		writeError(w, http.StatusUnauthorized, "", "missing or wrong API key: send X-API-Key, Authorization: Bearer, or Basic with the key as password")
	})
}

// keyIndex is the index in keys of the key the request carries, -1 for none. Every
// key is compared, in constant time.
func (a *Server) keyIndex(r *http.Request, keys [][32]byte) int {
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
		for i, k := range keys {
			if subtle.ConstantTimeCompare(sum[:], k[:]) == 1 {
				found = i
			}
		}
	}
	return found
}

// keyIndexCtx carries keyIndex in the request's context.
type keyIndexCtx struct{}
