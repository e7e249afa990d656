package passivedns

import (
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
)

// lazyCH is the ClickHouse server the integration tests of this package write to: a
// private clickhouse-server 18.16 started on the first test that asks (testCH), or the server
// named by PASSIVEDNS_TEST_CLICKHOUSE (see internal/chtest). Tests without ClickHouse, such as
// the Corefile parse tests, run without one; a test that needs it fails when it cannot start.
var lazyCH chtest.Lazy

func TestMain(m *testing.M) {
	if os.Getenv(ackServerEnv) != "" {
		serveAck() // BenchmarkWriter's stand-in server, in a process of its own
	}
	os.Exit(lazyCH.Main(m))
}

// testCH is the server, started if need be.
func testCH(tb testing.TB) *chtest.Server {
	tb.Helper()
	return lazyCH.Get(tb)
}
