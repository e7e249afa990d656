package chtest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

var (
	dbSeq     atomic.Int64
	dbNonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)
	// dbName is the identifier check the plugin's Corefile parser applies to a database.
	dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// TestDB returns a database name of the test's own, unique in this run and a valid
// identifier, so tests of one package never see each other's rows. Nothing creates it: the
// code under test does, or the test. It is dropped when the test passes and kept for
// inspection when it fails.
func (s *Server) TestDB(tb testing.TB) string {
	tb.Helper()
	name := strings.ToLower(dbNonWord.ReplaceAllString(tb.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t%d_%d_%s", os.Getpid()%100000, dbSeq.Add(1), strings.Trim(name, "_"))
	if !dbName.MatchString(db) {
		tb.Fatalf("test database name %q is not an identifier", db)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("database %s kept on %s (HTTP %s)", db, s.TCPAddr, s.HTTPAddr)
			return
		}
		if _, err := s.Query("DROP DATABASE IF EXISTS `" + db + "`"); err != nil {
			tb.Errorf("dropping %s: %v", db, err)
		}
	})
	return db
}
