package corednstest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chtest"
)

// Database returns the name of a new, empty database on ch for the test, NAME_PID, dropped
// again when the test passes (kept for a look when it fails). The process id keeps runs that
// share an external server (chtest.EnvDSN) apart. A private server that is not running at
// the end of the test (a test killed it) is left alone.
func Database(t testing.TB, ch *chtest.Server, name string) string {
	t.Helper()
	db := fmt.Sprintf("%s_%d", name, os.Getpid())
	drop := func() error {
		_, err := ch.Query("DROP DATABASE IF EXISTS " + db)
		return err
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("database %s kept", db)
			return
		}
		if !ch.External() && ch.Pid() == 0 {
			return
		}
		if err := drop(); err != nil {
			t.Errorf("dropping %s: %v", db, err)
		}
	})
	return db
}

// Count returns the number of rows of db.table, or an error while the table is missing or
// ClickHouse does not answer within timeout.
func Count(ch *chtest.Server, db, table string, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := ch.QueryContext(ctx, "SELECT count() FROM `"+db+"`.`"+table+"`")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(out), 10, 64)
}

// Lines runs a SELECT and returns its TabSeparated lines, failing the test on an error.
func Lines(t testing.TB, ch *chtest.Server, sql string) []string {
	t.Helper()
	out, err := ch.Query(sql)
	if err != nil {
		t.Fatal(err)
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}
