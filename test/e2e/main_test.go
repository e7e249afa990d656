package e2e

import (
	"os"
	"testing"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/corednstest"
)

var (
	ch      *chtest.Server     // shared by all tests; each test uses its own database
	coredns corednstest.Binary // built once by TestMain
)

// TestMain builds CoreDNS, starts ClickHouse (failing the package if it cannot), runs the
// tests and stops it.
func TestMain(m *testing.M) { os.Exit(corednstest.Main(m, "e2e", &coredns, &ch)) }
