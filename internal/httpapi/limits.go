package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Limits of each request. A request holds one of MaxConcurrent slots while it queries
// ClickHouse; the slot is taken only once its body is read (so a slow sender holds
// none), and given back before a page read whole is written (so a slow reader holds
// none). When several API keys are configured, one key holds at most keyShare slots:
// the others stay free for the other keys. Every request has an overall deadline;
// streamed answers are also cut by a write deadline.

const (
	bodyReadTimeout = 10 * time.Second // to send a request body, before any slot is taken
	// requestTimeouts and bulkTimeouts are the overall deadlines of a request, in query
	// time limits: a lookup runs a few queries (the alias search up to five), a bulk
	// many.
	requestTimeouts = 3
	bulkTimeouts    = 6
)

// keyShare is the most slots one API key holds when several keys are configured.
var keyShare = max(1, MaxConcurrent/2)

// slots counts the slots in use, in all and per key.
type slots struct {
	mu    sync.Mutex
	busy  int
	byKey map[int]int
}

// take takes a slot for key (-1: no key) unless all are busy or the key has its share.
func (a *Server) take(key int) bool {
	s := &a.slots
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy >= MaxConcurrent || key >= 0 && len(a.cfg.Keys) > 1 && s.byKey[key] >= keyShare {
		return false
	}
	s.busy++
	if key >= 0 {
		if s.byKey == nil {
			s.byKey = map[int]int{}
		}
		s.byKey[key]++
	}
	return true
}

func (a *Server) give(key int) {
	s := &a.slots
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if key >= 0 {
		if s.byKey[key]--; s.byKey[key] == 0 {
			delete(s.byKey, key)
		}
	}
}

// Occupy takes n query slots as n running queries would, and returns what frees them.
// Tests use it to see the API at its concurrency limit.
func (a *Server) Occupy(n int) (release func()) {
	for range n {
		for !a.take(-1) {
			time.Sleep(time.Millisecond)
		}
	}
	return func() {
		for range n {
			a.give(-1)
		}
	}
}

// releaseCtx carries the function that gives a request's slot back early.
type releaseCtx struct{}

// releaseSlot gives back the request's slot: its queries are done, only writing is
// left. Calling it again, or without a slot, does nothing.
func releaseSlot(r *http.Request) {
	if f, ok := r.Context().Value(releaseCtx{}).(func()); ok {
		f()
	}
}

// errBodyTimeout: the body did not arrive in time.
var errBodyTimeout = errors.New("body timeout")

// readBody reads the whole body into memory, bounded in size (apiMaxBody) and time
// (bodyReadTimeout), and puts it back as the request's body.
func readBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apiMaxBody))
	rc.SetReadDeadline(time.Time{})
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return errBodyTimeout
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// bounded reads the body, then takes a slot: MaxConcurrent requests query at once (a
// key at most keyShare of them when several keys are configured); the others are
// refused at once, with 503 (DNSDB: too many concurrent queries) or 429. The request
// runs under its overall deadline.
func (a *Server) bounded(p protocol, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := readBody(w, r); err != nil {
			status, msg := http.StatusRequestTimeout, fmt.Sprintf("the body did not arrive within %v", bodyReadTimeout)
			if errors.As(err, new(*http.MaxBytesError)) {
				status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("larger than %d bytes", apiMaxBody)
			}
			w.Header().Set("Connection", "close")
			writeError(w, status, "body", "body: "+msg)
			return
		}
		key, ok := r.Context().Value(keyIndexCtx{}).(int)
		if !ok {
			key = -1
		}
		if !a.take(key) {
			w.Header().Set("Retry-After", "1")
			if p == protoDNSDB {
				dnsdbFail(w, http.StatusServiceUnavailable, "too many concurrent queries")
				return
			}
			writeError(w, http.StatusTooManyRequests, "", "too many concurrent queries; retry shortly")
			return
		}
		var once sync.Once
		release := func() { once.Do(func() { a.give(key) }) }
		defer release()
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), releaseCtx{}, release), a.requestTimeout(r))
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestTimeout is the overall deadline of r.
func (a *Server) requestTimeout(r *http.Request) time.Duration {
	if r.Method == http.MethodPost {
		return bulkTimeouts * a.db.Timeout()
	}
	return requestTimeouts * a.db.Timeout()
}
