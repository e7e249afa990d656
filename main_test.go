package passivedns

import (
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
)

// testCH is the ClickHouse server the integration tests of this package write to: a private
// clickhouse-server 18.16 started by TestMain, or the server named by PASSIVEDNS_TEST_CLICKHOUSE
// (see internal/chtest). When it cannot be started the whole package fails; nothing is skipped.
var testCH *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &testCH)) }
