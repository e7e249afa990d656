package fault

import (
	"fmt"
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/corednstest"
)

var ch *chtest.Server // shared by all tests, which run one after another

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv(chtest.EnvDSN) != "" {
		fmt.Fprintln(os.Stderr, "fault: these tests kill, freeze and restart ClickHouse; unset", chtest.EnvDSN)
		return 1
	}
	// The test binary may be built with -race; CoreDNS is not, so that latency and memory
	// figures are those of a production build.
	return corednstest.Main(m, "fault", &coredns, &ch)
}
