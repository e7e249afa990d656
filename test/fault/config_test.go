package fault

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// loadAddr is the address of every *.load.example.org answer.
const loadAddr = "192.0.2.99"

// zone is the test zone: the wildcard gives every load query its own name and answer.
const zone = `$ORIGIN example.org.
$TTL 300
@       IN SOA   ns1.example.org. hostmaster.example.org. ( 1 3600 600 86400 60 )
@       IN NS    ns1.example.org.
ns1     IN A     192.0.2.53
*.load  IN A     ` + loadAddr + `
`

// startAuth starts the authoritative server for example.org in dir. It does not log
// queries: at a few hundred per second that would only fill memory.
func startAuth(t *testing.T, dir string) *coreDNS {
	t.Helper()
	corednstest.WriteFileAtomic(t, filepath.Join(dir, "db.example.org"), zone)
	return startCoreDNS(t, "auth", dir, func(p corednstest.Ports) string {
		return fmt.Sprintf(`example.org:%d {
    bind 127.0.0.1
    file db.example.org
    errors
}
`, p.DNS)
	})
}

// resolverConfig is what changes between the tests' resolvers.
type resolverConfig struct {
	db       string
	upstream string // the authoritative server
	flush    string
	spool    string // directory; empty: no spool
	spoolMax string // MAXSIZE, optional
	extra    []string
}

// corefile records into cfg.db with sensor "fault", serves the writer status on the
// http listener and the metrics on prometheus, and forwards to the authoritative server
// without a cache, so that every answer the client gets is one the resolver captured.
func (cfg resolverConfig) corefile() func(corednstest.Ports) string {
	return func(p corednstest.Ports) string {
		var props []string
		// Inserts take the default path of a stock server: Native blocks over HTTP.
		props = append(props, "flush "+cfg.flush, "sensor fault", fmt.Sprintf("http 127.0.0.1:%d", p.HTTP),
			"clickhouse_http http://"+ch.HTTPAddr+"/")
		if cfg.spool != "" {
			props = append(props, strings.TrimSpace("spool "+cfg.spool+" "+cfg.spoolMax))
		}
		props = append(props, cfg.extra...)
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    prometheus 127.0.0.1:%d
    passivedns %s {
        %s
    }
    forward . %s
}
`, p.DNS, p.Metrics, ch.DSN(cfg.db), strings.Join(props, "\n        "), cfg.upstream)
	}
}

// startResolver starts a recording resolver with cfg.
func startResolver(t *testing.T, dir string, cfg resolverConfig) *coreDNS {
	t.Helper()
	return startCoreDNS(t, "resolver", dir, cfg.corefile())
}

// rewriteCorefile writes the Corefile of cfg for c's ports, for a reload or a restart.
func (c *coreDNS) rewriteCorefile(t *testing.T, cfg resolverConfig) {
	t.Helper()
	corednstest.WriteFileAtomic(t, c.Corefile, cfg.corefile()(c.Ports))
}

// clickhouseUp makes sure the shared ClickHouse runs (a failed test may have left it
// killed or paused) and leaves it running and resumed at the end of the test.
func clickhouseUp(t *testing.T) {
	t.Helper()
	ensure := func() error {
		ch.Resume()
		if ch.Pid() == 0 {
			return ch.Restart()
		}
		return nil
	}
	if err := ensure(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ensure(); err != nil {
			t.Errorf("restarting ClickHouse after the test: %v", err)
		}
	})
}

// restartClickHouse starts a killed ClickHouse again and says how long that took.
func restartClickHouse(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := ch.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse restarted in %v", time.Since(start).Round(time.Millisecond))
}
