package chtest

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/passivedns/passivedns/internal/testkit"
)

var srv *Server

func TestMain(m *testing.M) { os.Exit(Main(m, &srv)) }

func TestVersion(t *testing.T) {
	out, err := srv.Query("SELECT version()")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(out)
	t.Logf("clickhouse-server %s (tcp %s, http %s)", v, srv.TCPAddr, srv.HTTPAddr)
	if v == "" {
		t.Fatal("SELECT version() returned nothing")
	}
	if !srv.External() && !strings.HasPrefix(v, "18.") {
		t.Errorf("version %q: want Debian's 18.x", v)
	}
}

func TestQueryError(t *testing.T) {
	_, err := srv.Query("SELECT no_such_function()")
	if err == nil {
		t.Fatal("want an error for an unknown function")
	}
	if !strings.Contains(err.Error(), "Unknown function") || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("error %q: want the HTTP status and the ClickHouse exception", err)
	}
}

func TestQueryTSV(t *testing.T) {
	out, err := srv.Query("SELECT number, toString(number * 2) FROM system.numbers LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	if want := "0\t0\n1\t2\n2\t4\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestDSN checks that clickhouse-go reaches the native port through DSN.
func TestDSN(t *testing.T) {
	dsn := srv.DSN("system")
	if !srv.External() && dsn != "clickhouse://"+srv.TCPAddr+"/system" {
		t.Errorf("DSN = %q", dsn)
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db != "system" {
		t.Errorf("currentDatabase() = %q, want system", db)
	}
}

// TestLifecycle runs a second server of its own, kills, stops, pauses and restarts it, and
// checks that committed rows survive.
func TestLifecycle(t *testing.T) {
	start := time.Now()
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	t.Logf("started in %v (tcp %s, http %s, pid %d)", time.Since(start), s.TCPAddr, s.HTTPAddr, s.Pid())
	if s.External() {
		t.Fatalf("%s is set: the lifecycle test needs a server it can kill", EnvDSN)
	}
	if s.TCPAddr == srv.TCPAddr || s.HTTPAddr == srv.HTTPAddr {
		t.Fatalf("second server shares a port with the first: %s %s", s.TCPAddr, s.HTTPAddr)
	}

	mustQuery(t, s, "CREATE TABLE default.t (d Date, x UInt32) ENGINE = MergeTree PARTITION BY toYYYYMM(d) ORDER BY x")
	mustQuery(t, s, "INSERT INTO default.t VALUES ('2024-01-01', 1), ('2024-01-02', 2), ('2024-02-01', 3)")
	count := func() string { return strings.TrimSpace(mustQuery(t, s, "SELECT count() FROM default.t")) }
	if got := count(); got != "3" {
		t.Fatalf("count = %s, want 3", got)
	}

	s.Kill()
	if s.Pid() != 0 {
		t.Error("Pid after Kill is not 0")
	}
	if _, err := s.Query("SELECT 1"); err == nil {
		t.Fatal("query after Kill succeeded")
	}
	start = time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted after SIGKILL in %v", time.Since(start))
	if got := count(); got != "3" {
		t.Fatalf("count after kill and restart = %s, want 3", got)
	}

	start = time.Now()
	if err := s.Restart(); err != nil { // stops the running server first
		t.Fatal(err)
	}
	t.Logf("stopped and restarted in %v", time.Since(start))
	if got := count(); got != "3" {
		t.Fatalf("count after stop and restart = %s, want 3", got)
	}

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = s.QueryContext(ctx, "SELECT 1")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query on a paused server: got %v, want a deadline error", err)
	}
	s.Resume()
	if got := count(); got != "3" {
		t.Fatalf("count after resume = %s, want 3", got)
	}

	// Stop must end a paused server too.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	s.Stop()
	if s.Pid() != 0 {
		t.Error("Pid after Stop is not 0")
	}
	t.Logf("stopped a paused server in %v", time.Since(start))
	if tail := s.ErrorLogTail(); !strings.Contains(tail, "clickhouse-server.err.log") {
		t.Errorf("ErrorLogTail: %q", tail)
	}
}

// TestStopWithIdleConnection checks that an idle clickhouse-go connection does not hold up
// Stop (it did for 10 s with the built-in poll_interval).
func TestStopWithIdleConnection(t *testing.T) {
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	opts, err := clickhouse.ParseDSN(s.DSN("default"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Stop()
	took := time.Since(start)
	t.Logf("stopped with an idle native connection in %v", took)
	if took > 5*time.Second {
		t.Errorf("Stop took %v with an idle connection open", took)
	}
}

// TestStartFailureSaysWhy starts a second server on the folder of a running one, which
// ClickHouse refuses, and checks that the error carries the server's own reason.
func TestStartFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if s.External() {
		t.Fatalf("%s is set: this test needs servers it starts", EnvDSN)
	}
	s2, err := Start(dir)
	if err == nil {
		s2.Stop()
		t.Fatal("a second server on the same folder started")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "exited during start") || !strings.Contains(err.Error(), "clickhouse-server.err.log") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestExternalDSN(t *testing.T) {
	s := &Server{external: true}
	var err error
	if s.dsn, err = url.Parse("clickhouse://u:p@db.example.org:9440/x?secure=true"); err != nil {
		t.Fatal(err)
	}
	if got, want := s.DSN("passivedns"), "clickhouse://u:p@db.example.org:9440/passivedns?secure=true"; got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
	if err := s.Restart(); !errors.Is(err, ErrExternal) {
		t.Errorf("Restart on an external server: %v", err)
	}
	s.Kill() // no-ops, must not panic
	if err := s.Pause(); err != nil {
		t.Error(err)
	}
	s.Resume()
	s.Stop()
}

func mustQuery(t *testing.T, s *Server, sql string) string {
	t.Helper()
	out, err := s.Query(sql)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.ErrorLogTail())
	}
	return out
}

// TestStartWith checks the options a cluster node needs: fixed ports and a config.d file
// merged over config.xml, both kept by Restart.
func TestStartWith(t *testing.T) {
	ports, err := testkit.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartWith(t.TempDir(), Options{
		TCPPort:  ports[0],
		HTTPPort: ports[1],
		ConfigD:  map[string]string{"macros.xml": "<yandex><macros><shard>7</shard></macros></yandex>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if want := "127.0.0.1:" + strconv.Itoa(ports[0]); s.TCPAddr != want {
		t.Errorf("TCPAddr = %s, want %s", s.TCPAddr, want)
	}
	if want := "127.0.0.1:" + strconv.Itoa(ports[1]); s.HTTPAddr != want { // and Query goes there
		t.Errorf("HTTPAddr = %s, want %s", s.HTTPAddr, want)
	}
	for _, step := range []string{"start", "restart"} {
		if got := strings.TrimSpace(mustQuery(t, s, "SELECT substitution FROM system.macros WHERE macro = 'shard'")); got != "7" {
			t.Errorf("after %s: macro shard = %q, want 7 from config.d/macros.xml", step, got)
		}
		if step == "start" {
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, bad := range []Options{
		{TCPPort: ports[0]},
		{ConfigD: map[string]string{"../x.xml": "<yandex/>"}},
	} {
		if s, err := StartWith(t.TempDir(), bad); err == nil {
			s.Stop()
			t.Errorf("StartWith(%+v) started a server", bad)
		}
	}
}
