package wire

import (
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// gen makes random well-formed answers of the walked types (and a few others), with
// names of random bytes, shared suffixes so that compression has work, and every
// length up to the limits.
type gen struct{ r *rand.Rand }

func (g gen) label() string {
	var b strings.Builder
	n := 1 + g.r.IntN(12)
	if g.r.IntN(20) == 0 {
		n = 63
	}
	for range n {
		var c byte
		switch g.r.IntN(10) {
		case 0:
			c = byte(g.r.IntN(256)) // anything: escapes
		case 1:
			c = ".\\\"'@;() -_*"[g.r.IntN(12)]
		case 2, 3:
			c = byte('A' + g.r.IntN(26))
		default:
			c = byte('a' + g.r.IntN(26))
		}
		switch {
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '\'' || c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteString(escape(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func escape(c byte) string { return string([]byte{'\\', '0' + c/100, '0' + c/10%10, '0' + c%10}) }

var zones = []string{"example.org.", "Example.COM.", "cdn.example.net.", "a.b.c.d.e.example.", "."}

func (g gen) name() string {
	if g.r.IntN(30) == 0 {
		return long
	}
	n := g.r.IntN(4)
	s := zones[g.r.IntN(len(zones))]
	for range n {
		l := g.label()
		if s == "." {
			s = l + "."
		} else {
			s = l + "." + s
		}
		if _, ok := dns.IsDomainName(s); !ok || len(s) > 200 {
			return "x." + zones[0]
		}
	}
	return s
}

func (g gen) rr(owner string) dns.RR {
	h := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: g.r.Uint32()}
	if g.r.IntN(20) == 0 {
		h.Class = uint16(g.r.IntN(65536))
	}
	u16 := func() uint16 { return uint16(g.r.IntN(65536)) }
	switch g.r.IntN(12) {
	case 0:
		h.Rrtype = dns.TypeA
		return &dns.A{Hdr: h, A: net.IP{byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(g.r.IntN(256))}}
	case 1:
		h.Rrtype = dns.TypeAAAA
		ip := make(net.IP, 16)
		for i := range ip {
			if g.r.IntN(3) == 0 {
				ip[i] = byte(g.r.IntN(256))
			}
		}
		if g.r.IntN(5) == 0 {
			copy(ip, net.IPv4(1, 2, 3, byte(g.r.IntN(256))))
		}
		return &dns.AAAA{Hdr: h, AAAA: ip}
	case 2:
		h.Rrtype = dns.TypeCNAME
		return &dns.CNAME{Hdr: h, Target: g.name()}
	case 3:
		h.Rrtype = dns.TypeNS
		return &dns.NS{Hdr: h, Ns: g.name()}
	case 4:
		h.Rrtype = dns.TypePTR
		return &dns.PTR{Hdr: h, Ptr: g.name()}
	case 5:
		h.Rrtype = dns.TypeMX
		return &dns.MX{Hdr: h, Preference: u16(), Mx: g.name()}
	case 6:
		h.Rrtype = dns.TypeSRV
		return &dns.SRV{Hdr: h, Priority: u16(), Weight: u16(), Port: u16(), Target: g.name()}
	case 7:
		h.Rrtype = dns.TypeSOA
		return &dns.SOA{Hdr: h, Ns: g.name(), Mbox: g.name(), Serial: g.r.Uint32(), Refresh: g.r.Uint32(),
			Retry: g.r.Uint32(), Expire: g.r.Uint32(), Minttl: g.r.Uint32()}
	case 8:
		h.Rrtype = dns.TypeDNAME
		return &dns.DNAME{Hdr: h, Target: g.name()}
	case 9:
		h.Rrtype = dns.TypeTXT
		var txt []string
		for range 1 + g.r.IntN(4) {
			var b strings.Builder
			n := g.r.IntN(40)
			if g.r.IntN(10) == 0 {
				n = 255
			}
			for range n {
				c := byte(g.r.IntN(256))
				if g.r.IntN(2) == 0 {
					c = byte(' ' + g.r.IntN(95))
				}
				switch {
				case c == '"' || c == '\\':
					b.WriteByte('\\')
					b.WriteByte(c)
				case c < ' ' || c > '~':
					b.WriteString(escape(c))
				default:
					b.WriteByte(c)
				}
			}
			txt = append(txt, b.String())
		}
		return &dns.TXT{Hdr: h, Txt: txt}
	case 10:
		h.Rrtype = dns.TypeCAA
		return &dns.CAA{Hdr: h, Flag: 0, Tag: "issue", Value: "ca.example"}
	default:
		h.Rrtype = uint16(65280 + g.r.IntN(100))
		return &dns.RFC3597{Hdr: h, Rdata: "abcdef"}
	}
}

func (g gen) msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(g.name(), uint16(g.r.IntN(300)))
	m.Response = true
	m.Id = uint16(g.r.IntN(65536))
	m.Rcode = g.r.IntN(16)
	owner := m.Question[0].Name
	for range g.r.IntN(8) {
		if g.r.IntN(3) == 0 {
			owner = g.name()
		}
		m.Answer = append(m.Answer, g.rr(owner))
	}
	for range g.r.IntN(3) {
		m.Ns = append(m.Ns, g.rr(g.name()))
	}
	if g.r.IntN(2) == 0 {
		m.SetEdns0(uint16(512+g.r.IntN(4000)), g.r.IntN(2) == 0)
		o := m.IsEdns0()
		if g.r.IntN(4) == 0 {
			m.Rcode = g.r.IntN(0x1000)
		}
		switch g.r.IntN(5) {
		case 0:
			o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708090a0b0c0d0e0f10"})
		case 1:
			o.Option = append(o.Option, &dns.EDNS0_PADDING{Padding: make([]byte, g.r.IntN(100))})
		case 2:
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: u16r(g), ExtraText: "x"})
		case 3:
			o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"})
		}
	}
	return m
}

func u16r(g gen) uint16 { return uint16(g.r.IntN(65536)) }

// TestGenerated compares the walk with the reference on random well-formed answers,
// packed with and without compression, and on copies with a few bytes changed.
func TestGenerated(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 500
	}
	g := gen{rand.New(rand.NewPCG(1, 2))}
	var d Decoder
	var walked int
	for range n {
		m := g.msg()
		for _, compress := range []bool{false, true} {
			m.Compress = compress
			wire, err := m.Pack()
			if err != nil {
				continue // a random name too long for its record, say
			}
			compare(t, &d, wire, true)
			if whole, _ := d.Fallbacks(); !whole {
				walked++
			}
			compare(t, &d, wire, false)
			for range 3 {
				mut := append([]byte(nil), wire...)
				for range 1 + g.r.IntN(3) {
					mut[g.r.IntN(len(mut))] = byte(g.r.IntN(256))
				}
				compare(t, &d, mut, g.r.IntN(2) == 0)
			}
		}
	}
	if walked < n {
		t.Errorf("only %d of %d generated messages walked", walked, 2*n)
	}
	t.Logf("%d messages walked without Msg.Unpack", walked)
}

// TestSizeAroundPointerLimit: names are remembered for compression only below offset
// 16384. Answers padded by a large TXT record put repeated names, names sharing suffixes
// and SRV and DNAME targets (never compressed) on both sides of that limit, at every
// padding within a few hundred octets, and the computed size must still be the library's.
func TestSizeAroundPointerLimit(t *testing.T) {
	var d Decoder
	owners := []string{"www.example.org.", "a.www.example.org.", "www.example.org.", "b.example.org.",
		"srv.example.org.", "www.example.org."}
	for pad := 16000; pad < 16400; pad += 3 {
		var txt []string
		for left := pad; left > 0; left -= 255 {
			txt = append(txt, strings.Repeat("x", min(left, 255)))
		}
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeTXT)
		m.Response = true
		hdr := func(name string, typ uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: 60}
		}
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr("pad.example.net.", dns.TypeTXT), Txt: txt})
		for i, o := range owners {
			m.Answer = append(m.Answer,
				&dns.A{Hdr: hdr(o, dns.TypeA), A: net.IPv4(192, 0, 2, byte(i)).To4()},
				&dns.SRV{Hdr: hdr("_x._tcp."+o, dns.TypeSRV), Priority: 1, Weight: 1, Port: 53, Target: o},
				&dns.DNAME{Hdr: hdr("d."+o, dns.TypeDNAME), Target: o},
				&dns.CNAME{Hdr: hdr("c."+o, dns.TypeCNAME), Target: "pad.example.net."})
		}
		for _, compress := range []bool{false, true} {
			m.Compress = compress
			wire, err := m.Pack()
			if err != nil {
				t.Fatalf("pad %d: %v", pad, err)
			}
			compare(t, &d, wire, true)
			compare(t, &d, wire, false)
		}
	}
}
