// Package recordtest makes captured responses and batches for the tests of the packages
// that store them.
package recordtest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/record"
)

// Capture is a captured answer (no records) to a query for name A, captured now.
func Capture(tb testing.TB, name string) record.Capture {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Response = true
	wire, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return record.Capture{Wire: wire, Time: time.Now()}
}

// Batch is a batch of n captures for r0.example.org. to r{n-1}.example.org., each with
// every capture field set.
func Batch(tb testing.TB, n int) *record.Batch {
	tb.Helper()
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	for i := range n {
		c := Capture(tb, fmt.Sprintf("r%d.example.org.", i))
		c.Client = netip.MustParseAddr("192.0.2.7")
		c.Server, c.Transport, c.Elapsed = "dns://:53", "udp", time.Duration(i)*time.Microsecond
		if err := b.Add(&c, d, "t"); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

// TypicalAnswer is a 4-record answer: a CNAME and three addresses, as a resolver often gives.
func TypicalAnswer(tb testing.TB) (*dns.Msg, *dns.Msg) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	reply := new(dns.Msg)
	reply.SetReply(q)
	reply.Compress = true
	reply.RecursionAvailable = true
	for _, s := range []string{
		"www.example.org. 300 IN CNAME www.cdn.example.net.",
		"www.cdn.example.net. 60 IN A 192.0.2.1",
		"www.cdn.example.net. 60 IN A 192.0.2.2",
		"www.cdn.example.net. 60 IN A 192.0.2.3",
	} {
		r, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		reply.Answer = append(reply.Answer, r)
	}
	reply.SetEdns0(1232, false)
	return q, reply
}
