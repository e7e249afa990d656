package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/clustertest"
	"github.com/passivedns/passivedns/internal/corednstest"
)

// The zone the authoritative server answers from: addresses, a CNAME chain, MX, and a
// wildcard so that every test query can have a name of its own.
const zone = `$ORIGIN example.org.
@       3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 3600 600 86400 60
@       3600 IN NS  ns1.example.org.
@       3600 IN MX  10 mail.example.org.
ns1     3600 IN A   192.0.2.53
mail    3600 IN A   192.0.2.25
www     3600 IN A   192.0.2.1
www     3600 IN A   192.0.2.2
www     3600 IN AAAA 2001:db8::1
docs    3600 IN CNAME www.example.org.
blog    3600 IN CNAME docs.example.org.
*.load  3600 IN A   192.0.2.99
`

// startAuth starts the authoritative server of the zone; its address is the upstream.
func startAuth(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db.example.org"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	p := coredns.Start(t, "auth", dir, func(p corednstest.Ports) string {
		return fmt.Sprintf("example.org:%d {\n    bind 127.0.0.1\n    file db.example.org\n    errors\n}\n", p.DNS)
	})
	return p.Addr
}

// dsn lists the native addresses of nodes, for failover between them, and the database.
func dsn(db string, nodes ...*clustertest.Node) string {
	var hosts []string
	for _, n := range nodes {
		hosts = append(hosts, n.TCPAddr)
	}
	return "clickhouse://" + strings.Join(hosts, ",") + "/" + db
}

// resolver starts a CoreDNS that records into dsn as sensor, forwarding to upstream; extra
// is more passivedns properties (cluster, spool, http).
func resolver(t *testing.T, name, dsn, sensor, upstream, extra string) *corednstest.Process {
	t.Helper()
	return coredns.Start(t, name, t.TempDir(), func(p corednstest.Ports) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    passivedns %s {
        sensor %s
        flush 100ms
        %s
    }
    forward . %s
}
`, p.DNS, dsn, sensor, strings.ReplaceAll(extra, "HTTPPORT", fmt.Sprint(p.HTTP)), upstream)
	})
}

// ask sends one query over UDP and returns the answer's rcode and answer count.
func ask(t testing.TB, addr, qname string, qtype uint16) (int, int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	c := &dns.Client{Timeout: 3 * time.Second}
	var err error
	for try := 0; try < 3; try++ {
		var r *dns.Msg
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r.Rcode, len(r.Answer)
		}
	}
	t.Fatalf("query %s to %s: %v", qname, addr, err)
	return 0, 0
}

// mix is the known traffic: each entry is asked count times.
var mix = []struct {
	qname string
	qtype uint16
	count int
}{
	{"www.example.org.", dns.TypeA, 3},
	{"www.example.org.", dns.TypeAAAA, 2},
	{"blog.example.org.", dns.TypeA, 2},
	{"example.org.", dns.TypeMX, 1},
	{"mail.example.org.", dns.TypeA, 1},
	{"nothere.example.org.", dns.TypeA, 2},
	{"www.example.org.", dns.TypeTXT, 1},
}

// askMix sends the mix to addr and returns how many answers were received.
func askMix(t *testing.T, addr string) int {
	t.Helper()
	n := 0
	for _, q := range mix {
		for range q.count {
			ask(t, addr, q.qname, q.qtype)
			n++
		}
	}
	return n
}

// hostPort is "127.0.0.1:port" of a corednstest port.
func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", fmt.Sprint(port)) }
