package e2e

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
	ch         *chtest.Server // shared by all tests; each test uses its own database
	corednsBin string         // built once by TestMain
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "passivedns-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	corednsBin = filepath.Join(dir, "coredns")
	start := time.Now()
	build := exec.Command("go", "build", "-o", corednsBin, "../../cmd/coredns")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building CoreDNS:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", corednsBin, time.Since(start).Round(time.Millisecond))
	// chtest.Main starts ClickHouse (failing the package if it cannot), runs the tests and
	// stops it.
	return chtest.Main(m, &ch)
}
