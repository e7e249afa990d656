// Package chdbtest runs SQL on current ClickHouse (26.x) inside the test process, through
// chDB: github.com/chdb-io/chdb-go loading /usr/local/lib/libchdb.so (installed by
// scripts/deps.sh). It proves that the project's SQL also works on current ClickHouse; it is an
// engine, not a server, so it says nothing about the wire protocol.
//
// chDB holds one session per process, and chdb-go's NewSession silently returns the open
// session whatever folder it is asked for. So this package keeps one Session at a time:
// Open on the folder of the open session returns it again, Open on another folder fails until
// the open one is closed, and calls are serialized.
//
// Importing this package makes a test binary exit with a message that says to run
// scripts/deps.sh when libchdb.so is missing (see package libcheck): the tests fail, they
// are never skipped.
package chdbtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/chdb-io/chdb-go/chdb"

	_ "github.com/passivedns/passivedns/internal/chdbtest/libcheck" // must init before chdb-go
	"github.com/passivedns/passivedns/internal/testkit"
)

// Session is the process's chDB session, with its databases in a folder.
type Session struct {
	dir  string
	sess *chdb.Session // nil once closed
}

var (
	mu      sync.Mutex // guards current and every call into chDB
	current *Session
)

// ErrClosed is returned by Exec on a closed Session.
var ErrClosed = errors.New("chdbtest: session is closed")

// Open returns a session whose data lives in dir (created if needed). If the open session
// already uses dir, Open returns it; if it uses another folder, Open fails: Close it first.
func Open(dir string) (*Session, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chdbtest: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		if current.dir == abs {
			return current, nil
		}
		return nil, fmt.Errorf("chdbtest: a chDB session is already open on %s; a process holds one at a time, close it before opening %s", current.dir, abs)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("chdbtest: %w", err)
	}
	sess, err := chdb.NewSession(abs)
	if err != nil {
		return nil, fmt.Errorf("chdbtest: opening a chDB session on %s: %w", abs, err)
	}
	current = &Session{dir: abs, sess: sess}
	return current, nil
}

// Dir returns the session's data folder.
func (s *Session) Dir() string { return s.dir }

// Exec runs SQL and returns its output as TabSeparated (empty for statements without
// output; FORMAT in the statement chooses another). Several statements separated by
// semicolons run in order and their outputs are concatenated. The error carries the
// ClickHouse exception text, such as "Code: 60. DB::Exception: Unknown table ...".
func (s *Session) Exec(sql string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if s.sess == nil {
		return "", ErrClosed
	}
	res, err := s.sess.Query(sql, "TSV")
	if err != nil {
		return "", fmt.Errorf("chdbtest: %s: %w", testkit.Abbrev(sql), err)
	}
	if res == nil {
		return "", nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return "", fmt.Errorf("chdbtest: %s: %w", testkit.Abbrev(sql), err)
	}
	return res.String(), nil // String copies the buffer that Free releases
}

// Close closes the session and keeps its folder, so that another Open can follow.
func (s *Session) Close() {
	mu.Lock()
	defer mu.Unlock()
	if s.sess == nil {
		return
	}
	s.sess.Close()
	s.sess = nil
	if current == s {
		current = nil
	}
}
