package chtest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Lazy is a server that starts the first time a test asks for it, so that the tests of a
// package that need no ClickHouse (a Corefile parse, say) run without one:
//
//	var clickhouse chtest.Lazy
//
//	func TestMain(m *testing.M) { os.Exit(clickhouse.Main(m)) }
//
//	func TestX(t *testing.T) { ch := clickhouse.Get(t); ... }
type Lazy struct {
	once sync.Once
	dir  string
	srv  *Server
	err  error
}

// Get starts the server on first use and returns it; when it cannot start, the test fails
// with the reason (and so does every later one that asks).
func (l *Lazy) Get(tb testing.TB) *Server {
	tb.Helper()
	l.once.Do(func() {
		if l.dir, l.err = os.MkdirTemp("", "chtest-"); l.err != nil {
			return
		}
		if l.srv, l.err = Start(l.dir); l.err != nil {
			os.RemoveAll(l.dir)
		}
	})
	if l.err != nil {
		tb.Fatalf("%v\nchtest: this test needs ClickHouse: run scripts/deps.sh, or set %s to the DSN of a running server", l.err, EnvDSN)
	}
	return l.srv
}

// Main runs the tests and stops the server if one started; its folder is removed when the
// tests pass and kept, with the error log's tail printed, when they fail.
func (l *Lazy) Main(m *testing.M) int {
	code := m.Run()
	if l.srv == nil {
		return code
	}
	l.srv.Stop()
	if code != 0 && !l.srv.external {
		fmt.Fprintf(os.Stderr, "chtest: tests failed; ClickHouse folder kept at %s\n%s", l.dir, l.srv.ErrorLogTail())
		return code
	}
	os.RemoveAll(l.dir)
	return code
}
