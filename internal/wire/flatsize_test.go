package wire

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestFlatSizeLookalikeNames: names spelled from a few octets, some of them small enough
// to read as label lengths, so one name's tail often equals another's at a place that is
// a label start in one and not in the other. The sizes without a table must be the
// library's, and those captures must not need the table.
func TestFlatSizeLookalikeNames(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	alphabet := []byte{1, 2, 3, 'a', 'b'}
	name := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			for range 1 + r.IntN(3) {
				if c := alphabet[r.IntN(len(alphabet))]; c < ' ' {
					fmt.Fprintf(&b, `\%03d`, c)
				} else {
					b.WriteByte(c)
				}
			}
			b.WriteByte('.')
		}
		return b.String()
	}
	hdr := func(typ uint16) dns.RR_Header {
		return dns.RR_Header{Name: name(), Rrtype: typ, Class: dns.ClassINET, Ttl: 60}
	}
	var d Decoder
	compressed := 0
	for range 20000 {
		m := new(dns.Msg)
		m.SetQuestion(name(), dns.TypeA)
		m.Response = true
		for range 1 + r.IntN(5) { // 16 names at most: none past maxFlatNames
			var rr dns.RR
			switch r.IntN(7) {
			case 0:
				rr = &dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(192, 0, 2, 1).To4()}
			case 1:
				rr = &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: name()}
			case 2:
				rr = &dns.NS{Hdr: hdr(dns.TypeNS), Ns: name()}
			case 3:
				rr = &dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: name()}
			case 4:
				rr = &dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: 1, Weight: 2, Port: 53, Target: name()}
			case 5:
				rr = &dns.DNAME{Hdr: hdr(dns.TypeDNAME), Target: name()}
			case 6:
				rr = &dns.SOA{Hdr: hdr(dns.TypeSOA), Ns: name(), Mbox: name(), Serial: 1}
			}
			m.Answer = append(m.Answer, rr)
		}
		wire := pack(t, m, false)
		compare(t, &d, wire, true)
		if err := d.Reset(wire); err != nil {
			t.Fatal(err)
		}
		n, ok := d.flatCompressed()
		if !ok {
			t.Fatalf("a capture of %d records needed the table\n%s", len(m.Answer), m)
		}
		if n < len(wire) {
			compressed++
		}
	}
	if compressed < 5000 {
		t.Errorf("only %d of 20000 messages had a name to compress", compressed)
	}
}

// BenchmarkCompressedSize: the compressed size of a captured answer, per op, with the
// table every message can use and without it, as captures take.
func BenchmarkCompressedSize(b *testing.B) {
	// Beside the realistic mix, answers with more names: n NS records and their
	// addresses, where the table starts to be cheaper (maxFlatRecords). flat is measured
	// past that bound too.
	nsAnswer := func(n int) []byte {
		var ns, glue []string
		for i := range n {
			host := string(rune('a'+i)) + ".gtld-servers.example."
			ns = append(ns, "example. 172800 IN NS "+host)
			glue = append(glue, host+" 172800 IN A 192.0.2."+strconv.Itoa(i+1))
		}
		return pack(b, reply(b, "example.", dns.TypeNS, 0, ns, nil, func(m *dns.Msg) {
			for _, g := range glue {
				m.Extra = append(m.Extra, mustRR(b, g))
			}
		}), false)
	}
	for _, set := range []struct {
		name string
		msgs [][]byte
	}{{"mix", benchMessages(b)}, {"4-ns", [][]byte{nsAnswer(4)}}, {"6-ns", [][]byte{nsAnswer(6)}},
		{"8-ns", [][]byte{nsAnswer(8)}}, {"13-ns", [][]byte{nsAnswer(13)}}} {
		b.Run(set.name, func(b *testing.B) { benchCompressedSize(b, set.msgs) })
	}
}

func benchCompressedSize(b *testing.B, msgs [][]byte) {
	for _, tc := range []struct {
		name string
		size func(d *Decoder) int
	}{
		{"table", func(d *Decoder) int { return d.compressed() }},
		{"flat", func(d *Decoder) int {
			n, ok := d.flatSize()
			if !ok {
				b.Fatal("a capture needed the table")
			}
			return n
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			decoders := make([]Decoder, len(msgs))
			for i := range msgs {
				if err := decoders[i].Reset(msgs[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				tc.size(&decoders[i%len(msgs)])
			}
		})
	}
}
