package chdbtest

import (
	"errors"
	"strings"
	"testing"
)

func open(t *testing.T) *Session {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustExec(t *testing.T, s *Session, sql string) string {
	t.Helper()
	out, err := s.Exec(sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVersion(t *testing.T) {
	s := open(t)
	v := strings.TrimSpace(mustExec(t, s, "SELECT version()"))
	t.Logf("chDB engine: ClickHouse %s", v)
	if !strings.HasPrefix(v, "26.") {
		t.Errorf("version %q: want 26.x", v)
	}
}

func TestMergeTreeTypes(t *testing.T) {
	s := open(t)
	// The TTL is not 100 years: toDateTime(ts) + INTERVAL 100 YEAR passes DateTime's end (2106)
	// and wraps to 1988, and the first merge deletes every row.
	mustExec(t, s, `CREATE TABLE default.answers (
		ts DateTime64(3, 'UTC'),
		addr IPv6,
		name LowCardinality(String)
	) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (name, ts) TTL toDateTime(ts) + INTERVAL 30 YEAR`)
	mustExec(t, s, `INSERT INTO default.answers VALUES
		('2024-05-01 12:00:00.123', '2001:db8::1', 'example.org'),
		('2024-05-01 12:00:01.456', '::ffff:192.0.2.7', 'example.net')`)
	got := mustExec(t, s, "SELECT ts, addr, name FROM default.answers ORDER BY ts")
	want := "2024-05-01 12:00:00.123\t2001:db8::1\texample.org\n" +
		"2024-05-01 12:00:01.456\t::ffff:192.0.2.7\texample.net\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := mustExec(t, s, "SELECT toTypeName(ts), toTypeName(addr) FROM default.answers LIMIT 1"); got != "DateTime64(3, \\'UTC\\')\tIPv6\n" {
		t.Errorf("types: %q", got) // TSV escapes the quotes
	}
	mustExec(t, s, "OPTIMIZE TABLE default.answers FINAL")
	if got := mustExec(t, s, "SELECT count() FROM default.answers"); got != "2\n" {
		t.Errorf("count after OPTIMIZE = %q, want 2 (did the TTL expire the rows?)", got)
	}
}

func TestErrorText(t *testing.T) {
	s := open(t)
	_, err := s.Exec("SELECT * FROM default.no_such_table")
	if err == nil {
		t.Fatal("want an error for a missing table")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "DB::Exception") || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("error %q: want the ClickHouse exception", err)
	}
}

func TestOneSessionAtATime(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "CREATE TABLE default.t (x UInt8) ENGINE = MergeTree ORDER BY x; INSERT INTO default.t VALUES (1), (2)")
	if again, err := Open(dirA); err != nil || again != a {
		t.Errorf("Open on the same folder: %p %v, want the open session %p", again, err, a)
	}
	if _, err := Open(dirB); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Errorf("Open on another folder while one is open: %v, want an error", err)
	}
	a.Close()
	a.Close() // twice is fine
	if _, err := a.Exec("SELECT 1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: %v, want ErrClosed", err)
	}

	b, err := Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustExec(t, b, "EXISTS TABLE default.t"); got != "0\n" {
		t.Errorf("table of folder A seen in folder B: %q", got)
	}
	b.Close()

	a, err = Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := mustExec(t, a, "SELECT count() FROM default.t"); got != "2\n" {
		t.Errorf("count after reopening folder A = %q, want 2", got)
	}
}
