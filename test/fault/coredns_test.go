package fault

import (
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// coredns is the binary of cmd/coredns, built once by TestMain (without -race). Its
// processes get longer to stop than in test/e2e: at SIGTERM passivedns flushes or spools.
var coredns = corednstest.Binary{StopTimeout: 20 * time.Second, LogLines: 80}

// coreDNS is one CoreDNS child process. Ports.DNS is its DNS port; Ports.HTTP and
// Ports.Metrics are the ports of the status listener and of prometheus (resolvers only),
// which the methods of check_test.go read.
type coreDNS struct{ *corednstest.Process }

// startCoreDNS starts CoreDNS with the Corefile that corefile returns for free loopback
// ports, in dir (see corednstest.Binary.Start).
func startCoreDNS(t *testing.T, name, dir string, corefile func(corednstest.Ports) string) *coreDNS {
	t.Helper()
	return &coreDNS{coredns.Start(t, name, dir, corefile)}
}
