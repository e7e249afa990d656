package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/clustertest"
	"github.com/passivedns/passivedns/internal/corednstest"
)

var (
	cl      *clustertest.Cluster // shared; each test uses databases of its own
	single  *chtest.Server       // one server, to compare with
	coredns corednstest.Binary
)

// TestMain builds CoreDNS, starts the cluster and one more server, runs the tests and stops
// them all.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "passivedns-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if coredns.Path, err = corednstest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "cluster: building CoreDNS:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "cluster: built CoreDNS in %v\n", time.Since(start).Round(time.Millisecond))
	if single, err = chtest.Start(filepath.Join(dir, "single")); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer single.Stop()
	return clustertest.Main(m, &cl)
}
