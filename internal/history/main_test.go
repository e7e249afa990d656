package history_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
)

// testCH is the clickhouse-server of this package's tests; when it cannot be started the
// whole package fails, nothing is skipped.
var testCH *chtest.Server

func TestMain(m *testing.M) {
	clog.Discard()
	os.Exit(chtest.Main(m, &testCH))
}

// The scenario: times in UTC, November 2026. It is the one the root package's API tests
// record through ServeDNS (api_test.go, recordScenario); here the same answers are made
// into a batch directly, since the read side must not depend on the writer.
var (
	scT0 = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	scT1 = scT0.Add(24 * time.Hour)
	scT2 = scT1.Add(24 * time.Hour)
)

func at(base time.Time, sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// scenario is a name that moves between addresses (evil), two names sharing an address
// (evil and shared on 192.0.2.2), a CNAME chain (www → cdn), an NXDOMAIN (nx), a NODATA
// (nodata), IPv6 (v6), a wildcard set (*.wild), an MX target and an RRset of two
// addresses (pair), in one batch.
func scenario(t *testing.T) *record.Batch {
	t.Helper()
	A, AAAA, MX := dns.TypeA, dns.TypeAAAA, dns.TypeMX
	soa := "example.net. 900 IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"
	var cs []record.Capture
	// answer captures the response to qname/qtype at when; SOA records go to authority.
	answer := func(when time.Time, qname string, qtype uint16, rcode int, rrs ...string) {
		m := recordtest.Msg(t, qname, qtype, rcode, false)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if rr.Header().Rrtype == dns.TypeSOA {
				m.Ns = append(m.Ns, rr)
			} else {
				m.Answer = append(m.Answer, rr)
			}
		}
		cs = append(cs, recordtest.CaptureOf(t, m, when, "10.240.0.1", "udp"))
	}
	answer(scT0, "evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	answer(at(scT0, 30), "www.example.net.", A, dns.RcodeSuccess, "www.example.net. 60 IN CNAME cdn.example.net.", "cdn.example.net. 300 IN A 198.51.100.7")
	answer(at(scT0, 40), "nx.example.net.", A, dns.RcodeNameError, soa)
	answer(at(scT0, 50), "v6.example.net.", AAAA, dns.RcodeSuccess, "v6.example.net. 3600 IN AAAA 2001:db8::1")
	answer(at(scT0, 60), "evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	for i, l := range []string{"a", "b", "c"} {
		n := l + ".wild.example.net."
		answer(at(scT0, 70+i), n, A, dns.RcodeSuccess, fmt.Sprintf("%s 300 IN A 203.0.113.%d", n, i+1))
	}
	answer(at(scT0, 80), "example.net.", MX, dns.RcodeSuccess, "example.net. 3600 IN MX 10 Mail.Example.NET.")
	answer(scT1, "evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.2")
	answer(at(scT1, 120), "shared.example.net.", A, dns.RcodeSuccess, "shared.example.net. 600 IN A 192.0.2.2")
	answer(at(scT1, 300), "nodata.example.net.", AAAA, dns.RcodeSuccess, soa)
	answer(scT2, "evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.2")
	// An RRset of two addresses, served in either order, then one of them alone.
	answer(at(scT1, 400), "pair.example.org.", A, dns.RcodeSuccess, "pair.example.org. 300 IN A 198.18.0.2", "pair.example.org. 300 IN A 198.18.0.1")
	answer(at(scT1, 500), "pair.example.org.", A, dns.RcodeSuccess, "pair.example.org. 300 IN A 198.18.0.1", "pair.example.org. 300 IN A 198.18.0.2")
	answer(at(scT2, 10), "pair.example.org.", A, dns.RcodeSuccess, "pair.example.org. 300 IN A 198.18.0.1")
	return recordtest.BatchOf(t, cs...)
}

// fillScenario creates the schema in a database of the test's own on testCH, as the sink
// would (schema.Ensure), and inserts the scenario with plain SQL. It returns the database
// and the batches.
func fillScenario(t *testing.T) (string, []*record.Batch) {
	t.Helper()
	db := testCH.TestDB(t)
	conn := testCH.Conn(t)
	var version string
	if err := conn.QueryRow(chtest.Ctx(t), "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	s := schema.Schema{Flavor: schema.DetectFlavor(version), DB: db}
	if err := schema.Ensure(context.Background(), conn, s, true, clog.NewWithPlugin("passivedns")); err != nil {
		t.Fatalf("creating the schema: %v", err)
	}
	b := scenario(t)
	testCH.Exec(t, recordtest.InsertSQL(t, s, b))
	return db, []*record.Batch{b}
}
