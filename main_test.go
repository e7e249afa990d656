package passivedns

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
)

// testCH is the ClickHouse server the integration tests of this package write to: a private
// clickhouse-server 18.16 started by TestMain, or the server named by PASSIVEDNS_TEST_CLICKHOUSE
// (see internal/chtest). When it cannot be started the whole package fails; nothing is skipped.
var testCH *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &testCH)) }

var (
	chDBSeq     atomic.Int64
	chDBNonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)
)

// chTestDB returns a database name of the test's own, unique in this run, that
// passes setup.go's identifier check. Nothing creates it: the sink does, or the test.
// It is dropped when the test passes and kept for inspection when it fails.
func chTestDB(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(chDBNonWord.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t%d_%d_%s", os.Getpid()%100000, chDBSeq.Add(1), strings.Trim(name, "_"))
	if !identifier.MatchString(db) {
		t.Fatalf("test database name %q is not an identifier", db)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("database %s kept on %s (HTTP %s)", db, testCH.TCPAddr, testCH.HTTPAddr)
			return
		}
		if _, err := testCH.Query("DROP DATABASE IF EXISTS `" + db + "`"); err != nil {
			t.Errorf("dropping %s: %v", db, err)
		}
	})
	return db
}
