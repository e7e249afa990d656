package history_test

import (
	"strings"
	"testing"

	"github.com/passivedns/passivedns/internal/chdbtest"
)

// TestServerLimits26: current ClickHouse enforces the bounds queryContext sends,
// max_execution_time included (18.16 does not stop a GROUP BY on it: the query is
// killed instead). chDB is an engine, so the settings go in a SETTINGS clause.
func TestServerLimits26(t *testing.T) {
	s, err := chdbtest.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slow := "SELECT number % 7 AS k, count() FROM numbers(100000000) WHERE sleepEachRow(0.00001) = 0 GROUP BY k SETTINGS "
	for _, tc := range []struct{ settings, want string }{
		{"max_execution_time = 1", "TIMEOUT_EXCEEDED"},
		{"max_rows_to_read = 100000", "TOO_MANY_ROWS"},
		{"max_memory_usage = 1000000, max_block_size = 1000000", "MEMORY_LIMIT_EXCEEDED"},
	} {
		_, err := s.Exec(slow + tc.settings)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %s", tc.settings, err, tc.want)
		}
	}
}
