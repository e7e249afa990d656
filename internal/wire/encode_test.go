package wire_test

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/wire"
)

// answer is a response to qname/qtype with rcode, the records in text, and EDNS0 as
// the recorder's callers usually send it.
func answer(tb testing.TB, qname string, qtype uint16, rcode int, rrs ...string) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response, m.RecursionAvailable, m.Rcode = true, true, rcode
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			m.Ns = append(m.Ns, rr)
		} else {
			m.Answer = append(m.Answer, rr)
		}
	}
	m.SetEdns0(1232, false)
	return m
}

// miekgPack is what the recorder falls back to: PackBuffer on an uncompressed shallow copy.
func miekgPack(m *dns.Msg) ([]byte, error) {
	c := *m
	c.Compress = false
	return c.PackBuffer(make([]byte, 512))
}

// checkAppend packs m both ways; when AppendMsg says ok the bytes must be the library's
// and the library must not have changed the message (AppendMsg leaves it alone, so it
// may only take messages the library leaves alone too). It returns AppendMsg's verdict.
func checkAppend(t *testing.T, m *dns.Msg) bool {
	t.Helper()
	prefix := []byte("prefix")
	got, ok := wire.AppendMsg(bytes.Clone(prefix), m)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("the caller's bytes were changed: %q", got)
	}
	if !ok {
		if len(got) != len(prefix) {
			t.Fatalf("fallback returned %d bytes, want the caller's %d", len(got), len(prefix))
		}
		return false
	}
	var ttl uint32
	opt := m.IsEdns0()
	if opt != nil {
		ttl = opt.Hdr.Ttl
	}
	want, err := miekgPack(m)
	if err != nil {
		t.Fatalf("AppendMsg packed what miekg/dns rejects (%v):\n%s", err, m)
	}
	if !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("AppendMsg differs from miekg/dns:\n got %x\nwant %x\n%s", got[len(prefix):], want, m)
	}
	if opt != nil && opt.Hdr.Ttl != ttl {
		t.Fatalf("miekg/dns changed the OPT TTL %#x -> %#x on a message AppendMsg packed", ttl, opt.Hdr.Ttl)
	}
	return true
}

func rr(tb testing.TB, s string) dns.RR {
	tb.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestAppendMsg(t *testing.T) {
	_, typical := recordtest.TypicalAnswer(t)
	cases := []struct {
		name string
		msg  func(t *testing.T) *dns.Msg
		ok   bool
	}{
		{"typical answer", func(*testing.T) *dns.Msg { return typical }, true},
		{"cname chain", func(t *testing.T) *dns.Msg {
			return answer(t, "host1.zone1.example.org.", dns.TypeA, 0,
				"host1.zone1.example.org. 300 IN CNAME host1.zone1.example.org.cdn.example.net.",
				"host1.zone1.example.org.cdn.example.net. 60 IN CNAME e1.a.edge.example.",
				"e1.a.edge.example. 20 IN A 192.0.2.10", "e1.a.edge.example. 20 IN A 192.0.2.11")
		}, true},
		{"aaaa", func(t *testing.T) *dns.Msg {
			return answer(t, "v6.example.", dns.TypeAAAA, 0, "v6.example. 60 IN AAAA 2001:db8::1", "v6.example. 60 IN AAAA ::ffff:192.0.2.1")
		}, true},
		{"mx", func(t *testing.T) *dns.Msg {
			return answer(t, "example.net.", dns.TypeMX, 0, "example.net. 3600 IN MX 10 mx1.example.net.", "example.net. 3600 IN MX 20 mx2.example.net.")
		}, true},
		{"txt", func(t *testing.T) *dns.Msg {
			return answer(t, "example.org.", dns.TypeTXT, 0, `example.org. 300 IN TXT "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 -all" "" "two"`,
				`example.org. 300 IN TXT "`+strings.Repeat("x", 255)+`"`)
		}, true},
		{"nxdomain with soa", func(t *testing.T) *dns.Msg {
			return answer(t, "nope.example.org.", dns.TypeA, dns.RcodeNameError,
				"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300")
		}, true},
		{"ns ptr dname srv", func(t *testing.T) *dns.Msg {
			return answer(t, "x.example.", dns.TypeANY, 0, "x.example. 60 IN NS ns.example.", "1.2.0.192.in-addr.arpa. 60 IN PTR x.example.",
				"d.example. 60 IN DNAME x.example.", "_sip._tcp.example. 60 IN SRV 10 20 5060 sip.example.")
		}, true},
		{"uppercase, odd bytes, longest label and name", func(t *testing.T) *dns.Msg {
			m := answer(t, "WWW.Example.ORG.", dns.TypeA, 0, "WWW.Example.ORG. 60 IN A 192.0.2.1")
			long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 octets
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: "a b\"(.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET}, Target: long})
			return m
		}, true},
		{"root names, classes, all flags, opcode", func(t *testing.T) *dns.Msg {
			m := answer(t, ".", dns.TypeNS, 0, ". 518400 IN NS a.root-servers.net.")
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeA, Class: dns.ClassCHAOS, Rdlength: 99}, A: net.IP{1, 2, 3, 4}})
			m.Authoritative, m.Truncated, m.RecursionDesired, m.Zero, m.AuthenticatedData, m.CheckingDisabled = true, true, true, true, true, true
			m.Opcode, m.Id = dns.OpcodeNotify, 0xBEEF
			return m
		}, true},
		{"16-octet v4-mapped A", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP("192.0.2.7")}}
			return m
		}, true},
		{"extended rcode already in OPT", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, dns.RcodeBadVers)
			m.IsEdns0().SetExtendedRcode(dns.RcodeBadVers)
			return m
		}, true},
		{"no question, no OPT", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, dns.RcodeServerFailure)
			m.Question, m.Extra = nil, nil
			return m
		}, true},
		{"OPT twice, the first left alone", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Extra = append([]dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 512, Ttl: 0x05008000}}}, m.Extra...)
			return m
		}, true},

		// Fallbacks: the library packs these (or refuses them) its own way.
		{"escaped owner", func(t *testing.T) *dns.Msg {
			return answer(t, "a.example.", dns.TypeA, 0, `a\.b.example. 60 IN A 192.0.2.1`)
		}, false},
		{"escaped question", func(t *testing.T) *dns.Msg { return answer(t, `\065.example.`, dns.TypeA, 0) }, false},
		{"escaped TXT", func(t *testing.T) *dns.Msg {
			return answer(t, "t.example.", dns.TypeTXT, 0, `t.example. 60 IN TXT "a\"b"`)
		}, false},
		{"not fully qualified", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Question[0].Name = "a.example"
			return m
		}, false},
		{"empty owner", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IP{1, 2, 3, 4}}}
			return m
		}, false},
		{"empty label", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET}, Target: "a..example."}}
			return m
		}, false},
		{"leading dot", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Question[0].Name = ".a.example."
			return m
		}, false},
		{"label of 64", func(t *testing.T) *dns.Msg {
			return answer(t, strings.Repeat("a", 64)+".example.", dns.TypeA, 0)
		}, false},
		{"name of 256", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Question[0].Name = strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 62) + "."
			return m
		}, false},
		{"nil A", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}}}
			return m
		}, false},
		{"16-octet IPv6 in an A", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP("2001:db8::1")}}
			return m
		}, false},
		{"4-octet AAAA", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeAAAA, 0)
			m.Answer = []dns.RR{&dns.AAAA{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET}, AAAA: net.IP{1, 2, 3, 4}}}
			return m
		}, false},
		{"TXT without strings", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeTXT, 0)
			m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}}}
			return m
		}, false},
		{"TXT string of 256", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeTXT, 0)
			m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{strings.Repeat("x", 256)}}}
			return m
		}, false},
		{"other type", func(t *testing.T) *dns.Msg {
			return answer(t, "a.example.", dns.TypeDS, 0, "a.example. 60 IN DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")
		}, false},
		{"OPT with an option", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"}}
			return m
		}, false},
		{"extended rcode, OPT not set", func(t *testing.T) *dns.Msg { return answer(t, "a.example.", dns.TypeA, dns.RcodeBadVers) }, false},
		{"extended rcode bits set, plain rcode", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.IsEdns0().SetExtendedRcode(dns.RcodeBadVers)
			return m
		}, false},
		{"extended rcode without OPT", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, dns.RcodeBadVers)
			m.Extra = nil
			return m
		}, false},
		{"rcode out of range", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0x1000)
			m.IsEdns0().Hdr.Ttl = 0
			return m
		}, false},
		{"nil record", func(t *testing.T) *dns.Msg {
			m := answer(t, "a.example.", dns.TypeA, 0)
			m.Answer = []dns.RR{nil}
			return m
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if ok := checkAppend(t, tc.msg(t)); ok != tc.ok {
				t.Fatalf("AppendMsg ok = %v, want %v", ok, tc.ok)
			}
		})
	}
}

// TestAppendMsgNoAlloc: with room in the buffer (the recorder's pooled 512 octets),
// packing the typical answer allocates nothing.
func TestAppendMsgNoAlloc(t *testing.T) {
	_, m := recordtest.TypicalAnswer(t)
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := wire.AppendMsg(buf[:0], m); !ok {
			t.Fatal("typical answer fell back")
		}
	}); n != 0 {
		t.Fatalf("AppendMsg allocated %v times per message", n)
	}
}

// FuzzAppendMsgMatchesMiekg: whenever AppendMsg packs, its bytes are miekg/dns's.
// Messages come two ways: whatever miekg/dns unpacks from the input (names escaped as
// the library prints them, every type), and messages built from fuzzed names, data
// and header fields, which reach the fast path far more often.
func FuzzAppendMsgMatchesMiekg(f *testing.F) {
	_, typical := recordtest.TypicalAnswer(f)
	for _, m := range []*dns.Msg{typical,
		answer(f, "example.org.", dns.TypeTXT, 0, `example.org. 300 IN TXT "v=spf1 -all" "x"`),
		answer(f, "nope.example.org.", dns.TypeA, dns.RcodeNameError, "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"),
		answer(f, `a\.b.example.`, dns.TypeDS, 0, "a.example. 60 IN DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"),
	} {
		w, err := miekgPack(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w, "www.Example.org.", "cdn.example.net.", "v=spf1 -all|x", []byte{192, 0, 2, 1}, uint16(0), uint8(0), uint32(0x3fff))
	}
	// Built from the first seed, every record is one AppendMsg packs itself.
	if _, ok := wire.AppendMsg(nil, built("www.Example.org.", "cdn.example.net.", "v=spf1 -all|x", []byte{192, 0, 2, 1}, 0, 0, 0x3fff)); !ok {
		f.Fatal("the seed's built message falls back: the fuzz target would not reach the fast path")
	}
	f.Add([]byte{}, ".", ".", "", []byte{}, uint16(16), uint8(1), uint32(0))
	f.Add([]byte{}, "a.example", `a\.b.`, `x\"`, []byte(net.ParseIP("2001:db8::1")), uint16(3), uint8(1), uint32(0xfffff))
	f.Fuzz(func(t *testing.T, raw []byte, name, target, txt string, ip []byte, rcode uint16, ext uint8, shape uint32) {
		var m dns.Msg
		if m.Unpack(raw) == nil {
			checkAppend(t, &m)
		}
		checkAppend(t, built(name, target, txt, ip, rcode, ext, shape))
	})
}

// built is a message of the records shape's low bits pick, all named and pointing at
// the fuzzed names, with the fuzzed rcode and extended rcode bits and header flags.
func built(name, target, txt string, ip []byte, rcode uint16, ext uint8, shape uint32) *dns.Msg {
	m := new(dns.Msg)
	m.Id = uint16(shape >> 16)
	m.Response, m.Authoritative, m.Truncated = shape&(1<<16) != 0, shape&(1<<17) != 0, shape&(1<<18) != 0
	m.RecursionDesired, m.RecursionAvailable, m.Zero = shape&(1<<19) != 0, shape&(1<<20) != 0, shape&(1<<21) != 0
	m.AuthenticatedData, m.CheckingDisabled = shape&(1<<22) != 0, shape&(1<<23) != 0
	m.Opcode = int(shape>>24) & 0xF
	m.Rcode = int(rcode % 0x1010)
	m.Question = []dns.Question{{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: shape}
	}
	var strs []string
	if txt != "" || shape&(1<<14) != 0 {
		strs = strings.Split(txt, "|")
	}
	// The AAAA gets its own 16 octets unless bit 28 hands it the fuzzed address.
	v6 := net.IP(ip)
	if shape&(1<<28) == 0 {
		v6 = make(net.IP, 16)
		copy(v6, ip)
	}
	rrs := []dns.RR{
		&dns.A{Hdr: hdr(dns.TypeA), A: ip},
		&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: v6},
		&dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: target},
		&dns.NS{Hdr: hdr(dns.TypeNS), Ns: target},
		&dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: target},
		&dns.DNAME{Hdr: hdr(dns.TypeDNAME), Target: target},
		&dns.MX{Hdr: hdr(dns.TypeMX), Preference: uint16(shape), Mx: target},
		&dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: uint16(shape), Weight: 7, Port: 53, Target: target},
		&dns.SOA{Hdr: hdr(dns.TypeSOA), Ns: target, Mbox: name, Serial: shape, Refresh: 1, Retry: 2, Expire: 3, Minttl: 4},
		&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: strs},
		&dns.A{Hdr: hdr(dns.TypeA), A: net.IP{192, 0, 2, byte(shape)}},
		&dns.MX{Hdr: hdr(dns.TypeMX), Preference: 1, Mx: "mx.example."},
	}
	for i, r := range rrs {
		if shape&(1<<i) != 0 {
			m.Answer = append(m.Answer, r)
		}
	}
	if shape&(1<<12) != 0 {
		m.Ns = append(m.Ns, rrs[8])
	}
	if shape&(1<<13) != 0 {
		m.Extra = append(m.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232, Ttl: uint32(ext)<<24 | shape&0x8000}})
	}
	if shape&(1<<15) != 0 {
		m.Question = nil
	}
	return m
}

// BenchmarkAppendMsg packs the typical answer uncompressed into a buffer with room,
// as the recorder does, with AppendMsg and with miekg/dns's PackBuffer side by side.
func BenchmarkAppendMsg(b *testing.B) {
	_, m := recordtest.TypicalAnswer(b)
	buf := make([]byte, 0, 512)
	b.Run("AppendMsg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := wire.AppendMsg(buf[:0], m); !ok {
				b.Fatal("fell back")
			}
		}
	})
	b.Run("miekg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := *m
			c.Compress = false
			if _, err := c.PackBuffer(buf[:512]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
