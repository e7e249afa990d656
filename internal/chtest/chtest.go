// Package chtest runs a private clickhouse-server for the tests of this module.
//
// Start writes a small configuration into a folder of the test's own and starts Debian's
// clickhouse-server (18.16, installed by scripts/deps.sh) as a child process in its own process
// group, listening on two free loopback ports. The Server it returns can stop, kill, pause,
// resume and restart that process, so tests can check what the plugin does while ClickHouse is
// away, and it can run SQL over the HTTP interface to check what was written.
//
// A typical TestMain:
//
//	var ch *chtest.Server
//
//	func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &ch)) }
//
// # External server
//
// If the environment variable PASSIVEDNS_TEST_CLICKHOUSE holds a DSN, such as
// clickhouse://127.0.0.1:9000/default (or clickhouse://user:password@host:9000/db), Start
// starts nothing and returns a Server for that server instead. Its HTTP interface is taken from
// PASSIVEDNS_TEST_CLICKHOUSE_HTTP (host:port), by default the DSN's host on port 8123. Start
// checks that it answers. Such a Server cannot be stopped, killed, paused or restarted: Stop,
// Kill, Pause and Resume do nothing and Restart returns ErrExternal; tests that need those
// should check External and fail.
//
// There is no skipping: when the server cannot be started, Start returns an error that says
// why, and the tests that need it fail.
package chtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/testkit"
)

// Environment variables that point the tests at an external server.
const (
	EnvDSN  = "PASSIVEDNS_TEST_CLICKHOUSE"
	EnvHTTP = "PASSIVEDNS_TEST_CLICKHOUSE_HTTP"
)

const (
	startTimeout = 30 * time.Second // until /ping answers
	stopTimeout  = 30 * time.Second // after SIGTERM, before SIGKILL
	queryTimeout = 2 * time.Minute  // for Query; use QueryContext for another
	startTries   = 3                // new ports when another process took ours
)

// ErrExternal is returned by Restart on a server that this package did not start.
var ErrExternal = errors.New("chtest: the server is external (" + EnvDSN + "); it cannot be restarted")

// Server is a clickhouse-server started by Start, or an external one.
type Server struct {
	// TCPAddr is the native protocol address, "127.0.0.1:port".
	TCPAddr string
	// HTTPAddr is the HTTP interface address, "127.0.0.1:port".
	HTTPAddr string
	// Dir is the folder with config.xml, data/ and log/; empty for an external server.
	Dir string

	external bool
	dsn      *url.URL // external only
	user     string
	password string
	binary   string
	client   *http.Client
	configD  map[string]string // file name -> content, for Dir/config.d/

	proc testkit.Process // not used by an external server
}

// Start starts a clickhouse-server whose configuration, data and logs live in dir (created if
// needed), on two free loopback ports, and waits until it answers /ping. See the package
// documentation for PASSIVEDNS_TEST_CLICKHOUSE.
func Start(dir string) (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return external(dsn)
	}
	return StartWith(dir, Options{})
}

// Options are what StartWith may change in the server Start runs.
type Options struct {
	// TCPPort and HTTPPort, when both are set, are used instead of free ports: a cluster
	// must know every node's port before the first node starts.
	TCPPort, HTTPPort int
	// ConfigD holds extra configuration files by name ("cluster.xml"), written into
	// Dir/config.d/, which clickhouse-server merges over the one config.xml of the project.
	ConfigD map[string]string
}

// StartWith is Start with Options. It always starts a server of its own: it ignores
// PASSIVEDNS_TEST_CLICKHOUSE, whose server could not take the extra configuration.
func StartWith(dir string, opts Options) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("chtest: %w", err)
	}
	fixed := opts.TCPPort != 0 && opts.HTTPPort != 0
	if !fixed && (opts.TCPPort != 0 || opts.HTTPPort != 0) {
		return nil, errors.New("chtest: Options: set both TCPPort and HTTPPort, or neither")
	}
	var lastErr error
	for try := 0; try < startTries; try++ {
		ports := []int{opts.TCPPort, opts.HTTPPort}
		if !fixed {
			if ports, err = testkit.FreePorts(2); err != nil {
				return nil, fmt.Errorf("chtest: finding free ports: %w", err)
			}
		}
		s := &Server{
			TCPAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
			HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
			Dir:      dir,
			binary:   bin,
			client:   newClient(),
			configD:  opts.ConfigD,
		}
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		lastErr = s.start()
		if lastErr == nil {
			return s, nil
		}
		if fixed || !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

// Main is a TestMain helper: it starts a server in a new temporary folder, stores it in *srv,
// runs the tests, stops the server and returns the exit code for os.Exit. When the server
// cannot start it prints why and returns 1, so the package fails. The folder is removed when
// the tests pass and kept (its path printed, with the error log tail) when they fail.
func Main(m *testing.M, srv **Server) int {
	dir, err := os.MkdirTemp("", "chtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chtest:", err)
		return 1
	}
	s, err := Start(dir)
	if err != nil {
		os.RemoveAll(dir) // the error already holds the log tail
		fmt.Fprintln(os.Stderr, err)
		if os.Getenv(EnvDSN) == "" {
			fmt.Fprintln(os.Stderr, "chtest: these tests need ClickHouse: run scripts/deps.sh, or set", EnvDSN, "to the DSN of a running server")
		}
		return 1
	}
	*srv = s
	code := m.Run()
	s.Stop()
	if code != 0 && !s.external {
		fmt.Fprintf(os.Stderr, "chtest: tests failed; ClickHouse folder kept at %s\n%s", dir, s.ErrorLogTail())
		return code
	}
	os.RemoveAll(dir)
	return code
}

// External reports whether the server was given by PASSIVEDNS_TEST_CLICKHOUSE.
func (s *Server) External() bool { return s.external }

// DSN returns a clickhouse-go DSN for the database on this server,
// "clickhouse://127.0.0.1:port/database".
func (s *Server) DSN(database string) string {
	if s.external {
		u := *s.dsn
		u.Path = "/" + database
		return u.String()
	}
	return "clickhouse://" + s.TCPAddr + "/" + database
}

// Query runs one SQL statement over the HTTP interface and returns the response body, which
// is TabSeparated unless the statement asks for another FORMAT. A non-200 answer is an error
// that includes the body (the ClickHouse exception).
func (s *Server) Query(sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	return s.QueryContext(ctx, sql)
}

// QueryContext is Query with a context, for example a short deadline against a paused server.
func (s *Server) QueryContext(ctx context.Context, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.HTTPAddr+"/", strings.NewReader(sql))
	if err != nil {
		return "", fmt.Errorf("chtest: %w", err)
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("chtest: query %q: %w", testkit.Abbrev(sql), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("chtest: query %q: reading answer: %w", testkit.Abbrev(sql), err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("chtest: query %q: HTTP %d: %s", testkit.Abbrev(sql), resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// Stop ends the server with SIGTERM, and SIGKILL if it has not exited after 30 seconds. It
// also resumes a paused server, which could not handle SIGTERM otherwise. It does nothing when
// the server is not running or is external.
func (s *Server) Stop() {
	if !s.external {
		s.proc.Stop(stopTimeout)
	}
}

// Kill ends the server with SIGKILL, as a crash would, and waits until it has exited.
func (s *Server) Kill() {
	if !s.external {
		s.proc.Kill()
	}
}

// Pause stops the server with SIGSTOP: connections stay open but nothing answers. It
// returns once every thread of the server has stopped, or an error after pauseTimeout.
func (s *Server) Pause() error {
	if !s.external && !s.proc.Pause(pauseTimeout) {
		return fmt.Errorf("chtest: clickhouse-server (pid %d) did not stop within %v of SIGSTOP", s.Pid(), pauseTimeout)
	}
	return nil
}

// pauseTimeout is how long Pause waits for every thread of the server to stop.
const pauseTimeout = 5 * time.Second

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Restart starts the server again on the same ports with the same data, stopping it first if
// it is still running, and waits until it answers /ping.
func (s *Server) Restart() error {
	if s.external {
		return ErrExternal
	}
	s.Stop()
	if err := s.writeConfig(); err != nil { // in case something rewrote it
		return err
	}
	return s.start()
}

// Pid returns the server's process id, or 0 when it is not running or external.
func (s *Server) Pid() int { return s.proc.Pid() }

// ErrorLogTail returns the last lines of the server's error log and of its standard output,
// for test failure messages. It is empty for an external server.
func (s *Server) ErrorLogTail() string {
	if s.external {
		return ""
	}
	var b strings.Builder
	for _, name := range []string{"clickhouse-server.err.log", "stdout.log"} {
		path := filepath.Join(s.Dir, "log", name)
		fmt.Fprintf(&b, "--- tail of %s\n%s", path, tail(path, 30))
	}
	return b.String()
}

// start runs the process and waits for /ping; the config is already written.
func (s *Server) start() error {
	cmd := exec.Command(s.binary, "--config-file="+filepath.Join(s.Dir, "config.xml"))
	cmd.Dir = s.Dir
	done, err := s.proc.Start(cmd, filepath.Join(s.Dir, "log", "stdout.log"))
	if err != nil {
		return fmt.Errorf("chtest: %w", err)
	}

	deadline := time.Now().Add(startTimeout)
	for {
		if s.ping() {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("chtest: clickhouse-server exited during start (%v)\n%s", s.proc.ExitError(), s.ErrorLogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("chtest: clickhouse-server did not answer /ping on %s within %v\n%s", s.HTTPAddr, startTimeout, s.ErrorLogTail())
		}
	}
}

func (s *Server) ping() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "Ok."
}

// signal sends sig to the server's process group; not to an external server.
func (s *Server) signal(sig syscall.Signal) {
	if !s.external {
		s.proc.Signal(sig)
	}
}

func (s *Server) writeConfig() error {
	_, tcpPort, _ := net.SplitHostPort(s.TCPAddr)
	_, httpPort, _ := net.SplitHostPort(s.HTTPAddr)
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("chtest: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "config.xml"), []byte(renderConfig(s.Dir, tcpPort, httpPort)), 0o644); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	if len(s.configD) == 0 {
		return nil
	}
	confD := filepath.Join(s.Dir, "config.d")
	if err := os.MkdirAll(confD, 0o755); err != nil {
		return fmt.Errorf("chtest: %w", err)
	}
	for name, content := range s.configD {
		if name != filepath.Base(name) || !strings.HasSuffix(name, ".xml") {
			return fmt.Errorf("chtest: config.d file %q: want a plain name ending in .xml", name)
		}
		if err := os.WriteFile(filepath.Join(confD, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("chtest: %w", err)
		}
	}
	return nil
}

func external(dsn string) (*Server, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return nil, fmt.Errorf("chtest: %s=%q is not a DSN like clickhouse://127.0.0.1:9000/default", EnvDSN, dsn)
	}
	host := u.Hostname()
	if u.Port() == "" {
		u.Host = net.JoinHostPort(host, "9000")
	}
	httpAddr := os.Getenv(EnvHTTP)
	if httpAddr == "" {
		httpAddr = net.JoinHostPort(host, "8123")
	}
	s := &Server{
		TCPAddr:  u.Host,
		HTTPAddr: httpAddr,
		external: true,
		dsn:      u,
		client:   newClient(),
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if _, err := s.Query("SELECT 1"); err != nil {
		return nil, fmt.Errorf("external server from %s (HTTP %s, set %s to change): %w", EnvDSN, httpAddr, EnvHTTP, err)
	}
	return s, nil
}

// newClient returns an HTTP client without keep-alive: an idle connection would hold up the
// server's shutdown for keep_alive_timeout, and a paused server must not leave it stale.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func findBinary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/clickhouse-server" // not on PATH for every user
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", fmt.Errorf("chtest: clickhouse-server not found on PATH or at /usr/sbin: run scripts/deps.sh, or set %s to the DSN of a running server", EnvDSN)
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")\n"
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n") + "\n"
}
