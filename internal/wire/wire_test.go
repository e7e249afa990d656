package wire

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/wire/wiretest"
)

func mustRR(tb testing.TB, s string) dns.RR {
	tb.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		tb.Fatalf("NewRR(%q): %v", s, err)
	}
	return r
}

// reply builds an answer to qname/qtype with the records given in presentation format.
func reply(tb testing.TB, qname string, qtype uint16, rcode int, answer, ns []string, tweak func(*dns.Msg)) *dns.Msg {
	tb.Helper()
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(tb, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(tb, s))
	}
	if tweak != nil {
		tweak(m)
	}
	return m
}

// pack is the capture: the message packed without compression, or as sent.
func pack(tb testing.TB, m *dns.Msg, compress bool) []byte {
	tb.Helper()
	c := *m
	c.Compress = compress
	b, err := c.Pack()
	if err != nil {
		tb.Fatalf("pack: %v", err)
	}
	return b
}

var long = strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 octets on the wire

type tcase struct {
	name    string
	qname   string
	qtype   uint16
	rcode   int
	answer  []string
	ns      []string
	tweak   func(*dns.Msg)
	wantQ   string
	wantAns [][3]string // name, type, data
	wantNs  [][3]string
	wantRc  string
	slow    bool // some record is expected to go through miekg/dns
}

var cases = []tcase{
	{name: "A", qname: "www.example.org.", qtype: dns.TypeA,
		answer:  []string{"www.example.org. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2"},
		wantAns: [][3]string{{"www.example.org.", "A", "192.0.2.1"}, {"www.example.org.", "A", "192.0.2.2"}}},
	{name: "AAAA", qname: "v6.example.org.", qtype: dns.TypeAAAA,
		answer:  []string{"v6.example.org. 60 IN AAAA 2001:DB8::0:1", "v6.example.org. 60 IN AAAA ::ffff:192.0.2.7", "v6.example.org. 60 IN AAAA ::"},
		wantAns: [][3]string{{"v6.example.org.", "AAAA", "2001:db8::1"}, {"v6.example.org.", "AAAA", "::ffff:192.0.2.7"}, {"v6.example.org.", "AAAA", "::"}}},
	{name: "CNAME chain", qname: "a.example.org.", qtype: dns.TypeA,
		answer: []string{"a.example.org. 60 IN CNAME B.Example.org.", "b.example.org. 60 IN CNAME c.example.net.", "c.example.net. 60 IN A 192.0.2.3"},
		wantAns: [][3]string{{"a.example.org.", "CNAME", "b.example.org."}, {"b.example.org.", "CNAME", "c.example.net."},
			{"c.example.net.", "A", "192.0.2.3"}}},
	{name: "MX NS SRV PTR DNAME lowered targets", qname: "example.org.", qtype: dns.TypeANY,
		answer: []string{"example.org. 60 IN MX 10 MAIL.example.org.", "example.org. 60 IN NS NS1.Example.org.",
			"_sip._tcp.example.org. 60 IN SRV 1 2 5060 SIP.example.org.", "1.2.0.192.in-addr.arpa. 60 IN PTR Host.Example.org.",
			"d.example.org. 60 IN DNAME Other.Example."},
		wantAns: [][3]string{{"example.org.", "MX", "10 mail.example.org."}, {"example.org.", "NS", "ns1.example.org."},
			{"_sip._tcp.example.org.", "SRV", "1 2 5060 sip.example.org."}, {"1.2.0.192.in-addr.arpa.", "PTR", "host.example.org."},
			{"d.example.org.", "DNAME", "other.example."}}},
	{name: "TXT with quotes and non-ASCII", qname: "txt.example.org.", qtype: dns.TypeTXT,
		answer:  []string{`txt.example.org. 60 IN TXT "say \"hi\"" "caf\195\169" "back\\slash" "" "Tab\009;(x)"`},
		wantAns: [][3]string{{"txt.example.org.", "TXT", `"say \"hi\"" "caf\195\169" "back\\slash" "" "Tab\009;(x)"`}}},
	{name: "SOA", qname: "example.org.", qtype: dns.TypeSOA,
		answer:  []string{"example.org. 60 IN SOA NS1.example.org. Hostmaster.example.org. 4294967295 7200 3600 1209600 300"},
		wantAns: [][3]string{{"example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 4294967295 7200 3600 1209600 300"}}},
	{name: "CAA keeps value case", qname: "example.org.", qtype: dns.TypeCAA, slow: true,
		answer:  []string{`example.org. 60 IN CAA 0 issue "Letsencrypt.org"`},
		wantAns: [][3]string{{"example.org.", "CAA", `0 issue "Letsencrypt.org"`}}},
	{name: "HTTPS and SVCB", qname: "example.org.", qtype: dns.TypeHTTPS, slow: true,
		answer: []string{`example.org. 60 IN HTTPS 1 CDN.example.net. alpn="h2,h3" ipv4hint="192.0.2.9"`,
			`_dns.example.org. 60 IN SVCB 1 DNS.example.org. alpn="dot"`},
		wantAns: [][3]string{{"example.org.", "HTTPS", `1 cdn.example.net. alpn="h2,h3" ipv4hint="192.0.2.9"`},
			{"_dns.example.org.", "SVCB", `1 dns.example.org. alpn="dot"`}}},
	{name: "unknown type", qname: "x.example.org.", qtype: 65280, slow: true,
		answer:  []string{`x.example.org. 60 IN TYPE65280 \# 3 abcdef`},
		wantAns: [][3]string{{"x.example.org.", "TYPE65280", `\# 3 abcdef`}}},
	{name: "NXDOMAIN with SOA", qname: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
		ns:     []string{"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"},
		wantNs: [][3]string{{"example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"}}, wantRc: "NXDOMAIN"},
	{name: "EDNS0 extended rcode", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeBadVers,
		tweak: func(m *dns.Msg) { m.SetEdns0(1232, true) }, wantRc: "BADVERS"},
	{name: "EDNS0 cookie padding EDE", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure,
		tweak: func(m *dns.Msg) {
			m.SetEdns0(1232, true)
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
				&dns.EDNS0_PADDING{Padding: make([]byte, 12)},
				&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNetworkError, ExtraText: "timeout"})
		}, wantRc: "SERVFAIL"},
	{name: "EDNS0 client subnet", qname: "www.example.org.", qtype: dns.TypeA, slow: true,
		answer: []string{"www.example.org. 300 IN A 192.0.2.1"},
		tweak: func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
		}, wantAns: [][3]string{{"www.example.org.", "A", "192.0.2.1"}}},
	{name: "255-octet name", qname: long, qtype: dns.TypeA,
		answer: []string{long + " 60 IN A 192.0.2.4"}, wantAns: [][3]string{{long, "A", "192.0.2.4"}}},
	{name: "escaped and binary labels", qname: `a\.b.example.org.`, qtype: dns.TypeA,
		answer:  []string{`a\.b.example.org. 60 IN A 192.0.2.5`, `\000\255\"q\\@\;\(\).example.org. 60 IN CNAME x\032Y.example.org.`},
		wantAns: [][3]string{{`a\.b.example.org.`, "A", "192.0.2.5"}, {`\000\255\"q\\\@\;\(\).example.org.`, "CNAME", `x\ y.example.org.`}}},
	{name: "mixed case 0x20", qname: "wWw.ExAmPlE.oRg.", qtype: dns.TypeA,
		answer: []string{"wWw.ExAmPlE.oRg. 60 IN A 192.0.2.6"}, wantQ: "www.example.org.",
		wantAns: [][3]string{{"www.example.org.", "A", "192.0.2.6"}}},
	{name: "class CH and unknown class", qname: "version.bind.", qtype: dns.TypeTXT,
		answer:  []string{`version.bind. 0 CH TXT "9.18"`, `x.example. 0 CLASS99 A 192.0.2.8`},
		wantAns: [][3]string{{"version.bind.", "TXT", `"9.18"`}, {"x.example.", "A", "192.0.2.8"}}},
}

// TestDecoder checks the walk against the stored text written out by hand, and
// against the reference, for captures packed with and without compression.
func TestDecoder(t *testing.T) {
	var d Decoder
	for _, tc := range cases {
		for _, compress := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/plain", true: "/compressed"}[compress], func(t *testing.T) {
				m := reply(t, tc.qname, tc.qtype, tc.rcode, tc.answer, tc.ns, tc.tweak)
				wire := pack(t, m, compress)
				got, sizeOK, err := walkRow(&d, wire, true)
				if err != nil {
					t.Fatalf("Reset: %v", err)
				}
				wantQ := tc.wantQ
				if wantQ == "" {
					wantQ = strings.ToLower(tc.qname)
				}
				wantRc := tc.wantRc
				if wantRc == "" {
					wantRc = "NOERROR"
				}
				if got.qname != wantQ || got.qtype != wiretest.TypeString(tc.qtype) || got.qclass != "IN" || got.rcode != wantRc {
					t.Errorf("question %q %q %q rcode %q, want %q %q IN %q", got.qname, got.qtype, got.qclass, got.rcode,
						wantQ, wiretest.TypeString(tc.qtype), wantRc)
				}
				checkSection(t, "answer", got.answer, tc.wantAns)
				checkSection(t, "authority", got.authority, tc.wantNs)
				whole, records := d.Fallbacks()
				if whole || (records > 0) != tc.slow {
					t.Errorf("fallbacks: whole %v, records %d; want records only if slow (%v)", whole, records, tc.slow)
				}
				if sizeOK == tc.slow {
					t.Errorf("size computed: %v, want %v", sizeOK, !tc.slow)
				}
				if sizeOK && got.size != len(pack(t, m, true)) {
					t.Errorf("size %d, want %d", got.size, len(pack(t, m, true)))
				}
				compare(t, &d, wire, true)
				compare(t, &d, wire, false)
			})
		}
	}
}

func checkSection(t *testing.T, name string, got [][5]string, want [][3]string) {
	t.Helper()
	var g [][3]string
	for _, r := range got {
		g = append(g, [3]string{r[0], r[1], r[4]})
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("%s:\n got %q\nwant %q", name, g, want)
	}
}

// compare fails when the walk and the reference disagree on wire.
func compare(t testing.TB, d *Decoder, wire []byte, compress bool) {
	t.Helper()
	want, werr := refRow(wire, compress)
	got, sizeOK, gerr := walkRow(d, wire, compress)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors differ: reference %v, walk %v\n%x", werr, gerr, wire)
	}
	if werr != nil {
		return
	}
	if sizeOK {
		if want.sizeErr {
			t.Fatalf("walk computed size %d, miekg/dns cannot pack\n%x", got.size, wire)
		}
		if got.size != want.size {
			t.Fatalf("size %d, want %d (compress %v)\n%x", got.size, want.size, compress, wire)
		}
	}
	n, err := d.PackedSize(compress)
	if (err != nil) != want.sizeErr || (err == nil && n != want.size) {
		t.Fatalf("PackedSize %d, %v; want %d, error %v (compress %v)\n%x", n, err, want.size, want.sizeErr, compress, wire)
	}
	got.size, got.sizeErr = want.size, want.sizeErr
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ\n got %+v\nwant %+v\n%x", got, want, wire)
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypeName(dns.TypeA), "A"}, {TypeName(dns.TypeHTTPS), "HTTPS"}, {TypeName(dns.TypeTA), "TA"},
		{TypeName(65280), "TYPE65280"}, {TypeName(65280), "TYPE65280"}, {TypeName(300), "TYPE300"},
		{ClassName(dns.ClassINET), "IN"}, {ClassName(dns.ClassANY), "ANY"}, {ClassName(99), "CLASS99"}, {ClassName(4000), "CLASS4000"},
		{RcodeName(0), "NOERROR"}, {RcodeName(3), "NXDOMAIN"}, {RcodeName(16), "BADVERS"}, {RcodeName(23), "BADCOOKIE"},
		{RcodeName(4000), "RCODE4000"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, v := range []uint16{0, 1, 28, 255, 256, 511, 512, 32768, 32769, 65280, 65535} {
		if TypeName(v) != wiretest.TypeString(v) || ClassName(v) != wiretest.ClassString(v) {
			t.Errorf("%d: %q %q, want %q %q", v, TypeName(v), ClassName(v), wiretest.TypeString(v), wiretest.ClassString(v))
		}
	}
	for rc := range 0x1000 {
		if RcodeName(rc) != wiretest.RcodeString(rc) {
			t.Errorf("rcode %d: %q, want %q", rc, RcodeName(rc), wiretest.RcodeString(rc))
		}
	}
	if n := testing.AllocsPerRun(100, func() { TypeName(65280); ClassName(4000) }); n != 0 {
		t.Errorf("unknown names: %v allocations per call", n)
	}
}

// TestMalformed: messages miekg/dns refuses are refused, the odd ones it accepts are
// read its way.
func TestMalformed(t *testing.T) {
	good := pack(t, reply(t, "www.example.org.", dns.TypeA, 0, []string{"www.example.org. 300 IN A 192.0.2.1"}, nil, nil), true)
	tests := []struct {
		name    string
		wire    []byte
		wantErr bool
	}{
		{"empty", nil, true},
		{"short header", good[:11], true},
		{"header only", good[:12], false},
		{"pointer loop", append(append([]byte{}, good[:12]...), 0xC0, 12, 0, 1, 0, 1), true},
		{"pointer forward", append(append([]byte{}, good[:12]...), 0xC0, 18, 0, 1, 0, 1, 0), true},
		{"reserved label type", append(append([]byte{}, good[:12]...), 0x40, 0, 0, 1, 0, 1), true},
		{"name cut", good[:20], true},
		{"rdata cut", good[:len(good)-1], true},
		{"trailing bytes", append(append([]byte{}, good...), 1, 2, 3), false},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Reset(tc.wire)
			if (err != nil) != tc.wantErr {
				t.Errorf("Reset: %v, want error %v", err, tc.wantErr)
			}
			compare(t, &d, tc.wire, true)
			compare(t, &d, tc.wire, false)
		})
	}
}

// TestNoAllocation: a reused Decoder and reused buffers cost nothing per message for
// the common types, size included.
func TestNoAllocation(t *testing.T) {
	msgs := benchMessages(t)
	var d Decoder
	buf := make([]byte, 0, 4096)
	run := func() {
		for _, w := range msgs {
			if err := d.Reset(w); err != nil {
				t.Fatal(err)
			}
			buf = d.AppendQName(buf[:0])
			for i := range d.NumAnswer() {
				r := d.Answer(i)
				buf = r.AppendName(buf)
				buf = r.AppendRdata(buf)
				_, _ = TypeName(r.Type()), ClassName(r.Class())
			}
			if _, ok := d.Size(true); !ok {
				t.Fatal("size not computed")
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("%v allocations per %d messages", n, len(msgs))
	}
}

// TestRepeatedNames: a name that comes again is copied from the text made the first
// time, so the remembered names must be told apart exactly, by their octets, and
// forgotten with the message.
func TestRepeatedNames(t *testing.T) {
	var cycle, long []string
	for i := range 6 { // more than are remembered, all of one length
		owner := "a" + strconv.Itoa(i) + ".example."
		cycle = append(cycle, owner+" 60 IN CNAME a"+strconv.Itoa((i+1)%6)+".example.")
	}
	cycle = append(cycle, cycle...)
	for i := range 30 { // more text than is kept
		owner := strings.Repeat("x", 60) + "." + strings.Repeat("y", 60) + "." + strings.Repeat("z", 60) + ".n" + strconv.Itoa(i) + ".example."
		long = append(long, owner+" 60 IN A 192.0.2.1", owner+" 60 IN A 192.0.2.2")
	}
	tests := []struct {
		name   string
		answer []string
		ns     []string
	}{
		{"cycle", cycle, nil},
		{"case", []string{"WWW.Example.org. 60 IN CNAME www.example.org.", "www.example.org. 60 IN A 192.0.2.1",
			"www.EXAMPLE.org. 60 IN A 192.0.2.2"}, nil},
		{"escaped", []string{`a\.b.example. 60 IN CNAME a\.b.example.`, `a\.b.example. 60 IN MX 10 a\.b.example.`,
			`a\046b.example. 60 IN TXT "x"`, `ab.example. 60 IN A 192.0.2.1`}, nil},
		{"long", long, nil},
		{"rdata", []string{"www.example.org. 60 IN MX 10 mx.example.org.", "www.example.org. 60 IN SRV 1 2 3 mx.example.org.",
			"www.example.org. 60 IN NS www.example.org."}, []string{"example.org. 60 IN SOA ns.example.org. ns.example.org. 1 2 3 4 5"}},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := reply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, tc.answer, tc.ns, nil)
			for _, compress := range []bool{false, true} {
				compare(t, &d, pack(t, m, compress), compress)
			}
		})
	}
	// The same layout with other names, through the same Decoder: what the first
	// message's names were is forgotten.
	for _, owner := range []string{"aa.example.", "bb.example."} {
		m := reply(t, owner, dns.TypeA, dns.RcodeSuccess, []string{owner + " 60 IN A 192.0.2.1", owner + " 60 IN A 192.0.2.2"}, nil, nil)
		compare(t, &d, pack(t, m, false), false)
	}
}
