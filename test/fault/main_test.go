package fault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chtest"
)

var (
	ch         *chtest.Server // shared by all tests, which run one after another
	corednsBin string         // built once by TestMain, without -race
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv(chtest.EnvDSN) != "" {
		fmt.Fprintln(os.Stderr, "fault: these tests kill, freeze and restart ClickHouse; unset", chtest.EnvDSN)
		return 1
	}
	dir, err := os.MkdirTemp("", "passivedns-fault-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	corednsBin = filepath.Join(dir, "coredns")
	start := time.Now()
	// The test binary may be built with -race; CoreDNS is not, so that latency and memory
	// figures are those of a production build.
	build := exec.Command("go", "build", "-o", corednsBin, "../../cmd/coredns")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "fault: building CoreDNS:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "fault: built %s in %v\n", corednsBin, time.Since(start).Round(time.Millisecond))
	return chtest.Main(m, &ch)
}
