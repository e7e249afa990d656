package passivedns

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/reuseport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/passivedns/passivedns/internal/webui"
)

// The history API's HTTP listener, built like the health and metrics plugins': opened
// with reuseport in OnStartup, shut down in OnRestart and OnFinalShutdown, started
// again on OnRestartFailed. Several server blocks naming one address share one
// listener: the first block's configuration serves it.

const (
	httpShutdownTimeout = 5 * time.Second
	apiMaxConcurrent    = 8 // API queries running at once; more get 429 (native, COF) or 503 (DNSDB)
	apiMaxBody          = 16 << 20
)

// httpConfig is the Corefile part of the API: http, api_key, http_tls.
type httpConfig struct {
	addr     string
	keys     [][32]byte // SHA-256 of each accepted key: compared in constant time, never logged
	certFile string
	keyFile  string
}

// httpAPI is one configured API listener.
type httpAPI struct {
	cfg  config
	http httpConfig
	db   *historyDB
	now  func() time.Time

	limit chan struct{} // semaphore of apiMaxConcurrent

	extraMu sync.Mutex
	extra   []extraRoute

	mu  sync.Mutex
	ln  net.Listener
	srv *http.Server
}

type extraRoute struct {
	pattern string
	h       http.Handler
	auth    bool
}

func newHTTPAPI(cfg config, hc httpConfig) *httpAPI {
	return &httpAPI{
		cfg:   cfg,
		http:  hc,
		db:    &historyDB{cfg: cfg},
		now:   time.Now,
		limit: make(chan struct{}, apiMaxConcurrent),
	}
}

// Handle mounts an extra handler on the API listener (for example a status page of the
// writer). Call it before OnStartup, from setup. With auth set, the handler needs an
// API key like the data endpoints. pattern is an http.ServeMux pattern such as
// "GET /api/v1/status".
func (a *httpAPI) Handle(pattern string, h http.Handler, auth bool) {
	a.extraMu.Lock()
	defer a.extraMu.Unlock()
	a.extra = append(a.extra, extraRoute{pattern, h, auth})
}

// apiListeners holds the running listener of each address, so that server blocks
// sharing an address start it once.
var apiListeners = struct {
	sync.Mutex
	m map[string]*httpAPI
}{m: map[string]*httpAPI{}}

// OnStartup starts the listener unless another server block already serves the address.
func (a *httpAPI) OnStartup() error {
	apiListeners.Lock()
	defer apiListeners.Unlock()
	if owner, ok := apiListeners.m[a.http.addr]; ok && owner != a && !anyPort(a.http.addr) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return nil
	}
	ln, err := reuseport.Listen("tcp", a.http.addr)
	if err != nil {
		return fmt.Errorf("history API on %s: %w", a.http.addr, err)
	}
	if a.http.certFile != "" {
		cert, err := tls.LoadX509KeyPair(a.http.certFile, a.http.keyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("history API TLS: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second, // a bulk body of 10,000 lines on a slow link
		WriteTimeout:      apiQueryTimeout + 30*time.Second,
		IdleTimeout:       30 * time.Second,
	}
	a.ln, a.srv = ln, srv
	if !anyPort(a.http.addr) {
		apiListeners.m[a.http.addr] = a
	}
	scheme := "http"
	if a.http.certFile != "" {
		scheme = "https"
	}
	log.Infof("History API listening on %s://%s (%d API keys)", scheme, ln.Addr(), len(a.http.keys))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("History API on %s stopped: %v", a.http.addr, err)
		}
	}()
	return nil
}

// Addr is the listener's address (useful with port 0), empty when not listening.
func (a *httpAPI) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// OnShutdown stops the listener (reload and final shutdown alike).
func (a *httpAPI) OnShutdown() error {
	apiListeners.Lock()
	if apiListeners.m[a.http.addr] == a {
		delete(apiListeners.m, a.http.addr)
	}
	apiListeners.Unlock()
	a.mu.Lock()
	srv := a.srv
	a.srv, a.ln = nil, nil
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	a.db.close()
	return nil
}

// protocol decides the shape of errors and the status of an overload.
type protocol int

const (
	protoNative protocol = iota
	protoDNSDB
	protoCOF
)

func (a *httpAPI) handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, p protocol, auth bool, h http.HandlerFunc) {
		var hh http.Handler = h
		if auth {
			hh = a.authorize(p, a.bounded(p, hh))
		}
		mux.Handle(pattern, instrument(p, hh))
	}
	route("GET /api/v1/openapi.json", protoNative, false, serveOpenAPI)
	route("GET /api/v1/name/{name}", protoNative, true, a.nativeByName(tableByName, nativeHistoryJSON))
	route("GET /api/v1/ip/{ip...}", protoNative, true, a.nativeIP)
	route("GET /api/v1/rdata/{name}", protoNative, true, a.nativeByName(tableByRdata, nativeHistoryJSON))
	route("GET /api/v1/negative/{name}", protoNative, true, a.nativeByName(tableNegative, nativeNegativeJSON))
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
	return recoverer(mux)
}

// recoverer turns a panic into a 500 without a stack trace in the answer.
func recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Errorf("History API: panic serving %s: %v", r.URL.Path, v)
				writeError(w, http.StatusInternalServerError, "", "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// authorize checks the API key when keys are configured: X-API-Key, Authorization:
// Bearer, or HTTP Basic with the key as password.
func (a *httpAPI) authorize(p protocol, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.http.keys) == 0 || a.keyOK(r) {
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

func (a *httpAPI) keyOK(r *http.Request) bool {
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
		for _, k := range a.http.keys {
			ok |= subtle.ConstantTimeCompare(sum[:], k[:])
		}
	}
	return ok == 1
}

// bounded lets apiMaxConcurrent requests query at once; the others are refused at
// once, with 503 (DNSDB: too many concurrent queries) or 429.
func (a *httpAPI) bounded(p protocol, h http.Handler) http.Handler {
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

// apiError is the JSON body of every native and COF error.
type apiError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

func writeError(w http.ResponseWriter, status int, param, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Error: msg, Parameter: param})
}

// errorStatus maps an error to its status and message: parameters are 400 with the
// parameter named, an unavailable ClickHouse 503, anything else a logged 500.
func errorStatus(err error) (int, string, string) {
	var pe *paramError
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.param, pe.Error()
	case errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable, "", "history database unavailable, retry later"
	case errors.Is(err, context.Canceled):
		return 499, "", "request canceled"
	}
	log.Errorf("History API: %v", err)
	return http.StatusInternalServerError, "", "internal error"
}

func fail(w http.ResponseWriter, err error) {
	status, param, msg := errorStatus(err)
	writeError(w, status, param, msg)
}

// isLoopback tells whether a listen address only accepts local connections.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseHTTPProperty parses http ADDRESS, api_key KEY... and http_tls CERT KEY.
func parseHTTPProperty(c *caddy.Controller, hc *httpConfig, prop string, args []string) error {
	switch prop {
	case "http":
		if len(args) != 1 {
			return c.Errf("property 'http' takes exactly one address, got %d", len(args))
		}
		if _, port, err := net.SplitHostPort(args[0]); err != nil || port == "" {
			return c.Errf("invalid http '%s': not HOST:PORT", args[0])
		}
		hc.addr = args[0]
	case "api_key":
		if len(args) == 0 {
			return c.Err("property 'api_key' needs at least one key")
		}
		for i, k := range args {
			if k == "" {
				// Never echo keys: say which one.
				return c.Errf("api_key %d is empty (is its environment variable set?)", i+1)
			}
			if strings.HasPrefix(k, "{$") && strings.HasSuffix(k, "}") {
				return c.Errf("api_key %d is an environment placeholder that was not replaced (is the variable set?)", i+1)
			}
			if len(k) < 8 {
				return c.Errf("api_key %d is shorter than 8 characters", i+1)
			}
			hc.keys = append(hc.keys, sha256.Sum256([]byte(k)))
		}
	case "http_tls":
		if len(args) != 2 {
			return c.Errf("property 'http_tls' takes CERT KEY, got %d values", len(args))
		}
		hc.certFile, hc.keyFile = args[0], args[1]
	}
	return nil
}

// check refuses an API open to the network without keys.
func (hc httpConfig) check() error {
	if hc.addr == "" {
		if len(hc.keys) > 0 || hc.certFile != "" {
			return errors.New("api_key and http_tls need http ADDRESS")
		}
		return nil
	}
	if len(hc.keys) == 0 && !isLoopback(hc.addr) {
		return fmt.Errorf("http %s accepts connections from the network but no api_key is set: set api_key, or listen on a loopback address such as 127.0.0.1:8053", hc.addr)
	}
	return nil
}

// anyPort tells whether addr asks for any free port: such listeners are never shared.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

var protocolNames = [...]string{protoNative: "native", protoDNSDB: "dnsdb", protoCOF: "cof"}

// instrument counts requests by protocol and status and times them.
func instrument(p protocol, h http.Handler) http.Handler {
	name := protocolNames[p]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		apiRequests.WithLabelValues(name, strconv.Itoa(sw.status)).Inc()
		apiDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status; Unwrap keeps http.ResponseController working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Metrics of the history API.
var (
	apiRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "api_requests_total",
		Help:      "Counter of history API requests, by protocol (native, dnsdb, cof) and HTTP status.",
	}, []string{"protocol", "code"})

	apiDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "api_request_duration_seconds",
		Buckets:   plugin.TimeBuckets,
		Help:      "Histogram of the time history API requests took, by protocol.",
	}, []string{"protocol"})
)
