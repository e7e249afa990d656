// Package corednstest runs the CoreDNS binary of cmd/coredns for the tests that drive it from
// outside (test/e2e, test/fault): Main builds it once and starts ClickHouse (internal/chtest),
// Binary.Start runs it as a child process on free loopback ports with a Corefile of the
// test's own, and the Process it returns can be signalled, stopped, killed and restarted and
// keeps its output, which is logged when the test fails. A few ClickHouse helpers (a database
// per test, row counts, TabSeparated lines) complete it.
//
// A typical TestMain:
//
//	var (
//		ch      *chtest.Server
//		coredns corednstest.Binary
//	)
//
//	func TestMain(m *testing.M) { os.Exit(corednstest.Main(m, "e2e", &coredns, &ch)) }
package corednstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chtest"
)

// Package is the import path of the CoreDNS main package that Build builds.
const Package = "github.com/passivedns/passivedns/cmd/coredns"

// Build builds Package into dir/coredns and returns its path. The go command's output goes
// to standard error. The binary is built without -race even when the test binary is, so that
// latency and memory figures are those of a production build.
func Build(dir string) (binary string, err error) {
	binary = filepath.Join(dir, "coredns")
	build := exec.Command("go", "build", "-o", binary, Package)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", err
	}
	return binary, nil
}

// Main is a TestMain helper: it builds CoreDNS into a new temporary folder (removed at the
// end) and stores its path in bin.Path, then runs the tests with chtest.Main, which starts
// ClickHouse, stores it in *ch and stops it again. It returns the exit code for os.Exit;
// name prefixes its messages and the folder's name.
func Main(m *testing.M, name string, bin *Binary, ch **chtest.Server) int {
	dir, err := os.MkdirTemp("", "passivedns-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	path, err := Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+": building CoreDNS:", err)
		return 1
	}
	bin.Path = path
	fmt.Fprintf(os.Stderr, "%s: built %s in %v\n", name, path, time.Since(start).Round(time.Millisecond))
	// chtest.Main starts ClickHouse (failing the package if it cannot), runs the tests and
	// stops it.
	return chtest.Main(m, ch)
}

// WriteFileAtomic replaces path so that a reader sees the old or the new content, never a
// mix: CoreDNS's file plugin may re-read a zone, and a reload a Corefile, at any moment.
func WriteFileAtomic(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
