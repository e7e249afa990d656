package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/pkg/reuseport"
)

// The history API's HTTP listener, built like the health and metrics plugins': opened
// with reuseport in OnStartup, shut down in OnRestart and OnFinalShutdown, started
// again on OnRestartFailed. Several server blocks naming one address share one
// listener: the first block's configuration serves it.

const (
	httpShutdownTimeout = 5 * time.Second
	// MaxConcurrent is how many API queries run at once; more get 429 (native, COF) or
	// 503 (DNSDB).
	MaxConcurrent = 8
	apiMaxBody    = 16 << 20
)

// Config is the Corefile part of the API (http, api_key, http_tls) and what the
// answers need to know of the plugin.
type Config struct {
	Addr string
	Keys [][32]byte // SHA-256 of each accepted key: compared in constant time, never logged
	// ClientKeys (clients_api_key) are the keys that may also read client addresses;
	// they open every other endpoint too.
	ClientKeys [][32]byte
	// Clients is what the writer records of client addresses: off (or empty), prefix, full.
	Clients  string
	CertFile string
	KeyFile  string
	Sensor   string // this server's sensor name (COF sensor_id)
}

// Server is one configured API listener.
type Server struct {
	cfg Config
	db  *history.DB
	log clog.P
	// Now is the clock of relative times; tests set it.
	Now func() time.Time

	slots slots // of MaxConcurrent

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

// New returns the API server of cfg, reading through db.
func New(cfg Config, db *history.DB, log clog.P) *Server {
	return &Server{cfg: cfg, db: db, log: log, Now: time.Now}
}

// Handle mounts an extra handler on the API listener (for example a status page of the
// writer). Call it before OnStartup, from setup. With auth set, the handler needs an
// API key like the data endpoints. pattern is an http.ServeMux pattern such as
// "GET /api/v1/status".
func (a *Server) Handle(pattern string, h http.Handler, auth bool) {
	a.extraMu.Lock()
	defer a.extraMu.Unlock()
	a.extra = append(a.extra, extraRoute{pattern, h, auth})
}

// apiListeners holds the running listener of each address, so that server blocks
// sharing an address start it once.
var apiListeners = struct {
	sync.Mutex
	m map[string]*Server
}{m: map[string]*Server{}}

// OnStartup starts the listener unless another server block already serves the address.
func (a *Server) OnStartup() error {
	apiListeners.Lock()
	defer apiListeners.Unlock()
	if owner, ok := apiListeners.m[a.cfg.Addr]; ok && owner != a && !anyPort(a.cfg.Addr) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return nil
	}
	ln, err := reuseport.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("history API on %s: %w", a.cfg.Addr, err)
	}
	if a.cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.CertFile, a.cfg.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("history API TLS: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,                             // a bulk body of 10,000 lines on a slow link
		WriteTimeout:      bulkTimeouts*a.db.Timeout() + 30*time.Second, // the handlers set tighter ones
		IdleTimeout:       30 * time.Second,
	}
	a.ln, a.srv = ln, srv
	if !anyPort(a.cfg.Addr) {
		apiListeners.m[a.cfg.Addr] = a
	}
	scheme := "http"
	if a.cfg.CertFile != "" {
		scheme = "https"
	}
	a.log.Infof("History API listening on %s://%s (%d API keys)", scheme, ln.Addr(), len(a.cfg.Keys))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Errorf("History API on %s stopped: %v", a.cfg.Addr, err)
		}
	}()
	return nil
}

// Addr is the listener's address (useful with port 0), empty when not listening.
func (a *Server) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// OnShutdown stops the listener (reload and final shutdown alike).
func (a *Server) OnShutdown() error {
	apiListeners.Lock()
	if apiListeners.m[a.cfg.Addr] == a {
		delete(apiListeners.m, a.cfg.Addr)
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
	a.db.Close()
	return nil
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

// Check refuses an API open to the network without keys.
func (hc Config) Check() error {
	if hc.Addr == "" {
		if len(hc.Keys) > 0 || len(hc.ClientKeys) > 0 || hc.CertFile != "" {
			return errors.New("api_key, clients_api_key and http_tls need http ADDRESS")
		}
		return nil
	}
	if len(hc.Keys) == 0 && len(hc.ClientKeys) == 0 && !isLoopback(hc.Addr) {
		return fmt.Errorf("http %s accepts connections from the network but no api_key is set: set api_key, or listen on a loopback address such as 127.0.0.1:8053", hc.Addr)
	}
	return nil
}

// anyPort tells whether addr asks for any free port: such listeners are never shared.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}
