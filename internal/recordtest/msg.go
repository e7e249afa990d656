package recordtest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/record"
)

// Sensor is the sensor name BatchOf stores.
const Sensor = "sensor-1"

// Msg is a response to qname/qtype with rcode and the given answer records (zone file
// lines); flags RD and RA are set, AA too when aa is true.
func Msg(tb testing.TB, qname string, qtype uint16, rcode int, aa bool, answers ...string) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response, m.RecursionAvailable, m.Authoritative, m.Rcode = true, true, aa, rcode
	for _, a := range answers {
		rr, err := dns.NewRR(a)
		if err != nil {
			tb.Fatalf("dns.NewRR(%q): %v", a, err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

// CaptureOf is what the plugin would capture for m, packed the way its recorder packs it
// (uncompressed, with the client's compression noted for the size). An empty client is a
// client not recorded.
func CaptureOf(tb testing.TB, m *dns.Msg, at time.Time, client string, transport string) record.Capture {
	tb.Helper()
	u := m.Copy()
	u.Compress = false
	wire, err := u.Pack()
	if err != nil {
		tb.Fatalf("packing %v: %v", m.Question, err)
	}
	c := record.Capture{
		Wire: wire, Time: at, Elapsed: 1500 * time.Microsecond,
		Server: "dns://.:53", Transport: transport, Compress: true,
	}
	if client != "" {
		c.Client = netip.MustParseAddr(client)
	}
	return c
}

// BatchOf decodes captures into a new batch as the writer does, for sensor Sensor.
func BatchOf(tb testing.TB, cs ...record.Capture) *record.Batch {
	tb.Helper()
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	for i := range cs {
		if err := b.Add(&cs[i], d, Sensor); err != nil {
			tb.Fatalf("adding capture %d to a batch: %v", i, err)
		}
	}
	return b
}

// WithSensor is b decoded again from its captures as recorded by sensor, under b's id.
func WithSensor(tb testing.TB, b *record.Batch, sensor string) *record.Batch {
	tb.Helper()
	n := &record.Batch{ID: b.ID}
	d := new(record.Decoder)
	for i := range b.Caps {
		if err := n.Add(&b.Caps[i], d, sensor); err != nil {
			tb.Fatalf("adding capture %d to a batch: %v", i, err)
		}
	}
	return n
}

// Numbered returns n captured A answers for distinct names prefix000.example.org. and on,
// a millisecond apart and a minute ago, with the names in order.
func Numbered(tb testing.TB, prefix string, n int) ([]record.Capture, []string) {
	tb.Helper()
	var cs []record.Capture
	var names []string
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%03d.example.org.", prefix, i)
		m := Msg(tb, name, dns.TypeA, 0, false, name+" 60 IN A 192.0.2.6")
		cs = append(cs, CaptureOf(tb, m, at.Add(time.Duration(i)*time.Millisecond), "192.0.2.1", "udp"))
		names = append(names, name)
	}
	return cs, names
}
