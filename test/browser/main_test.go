package browser

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/corednstest"
)

var (
	ch       *chtest.Server     // shared by all tests; each test uses its own database
	coredns  corednstest.Binary // built once by TestMain
	chromium string             // path of the browser
)

// TestMain finds chromium, builds CoreDNS and starts ClickHouse (failing the package if
// either is missing), runs the tests and stops it.
func TestMain(m *testing.M) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		fmt.Fprintln(os.Stderr, "browser: chromium not found: run scripts/deps.sh")
		os.Exit(1)
	}
	os.Exit(corednstest.Main(m, "browser", &coredns, &ch))
}
