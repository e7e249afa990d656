package passivedns

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/passivedns/passivedns/internal/record"

	"github.com/miekg/dns"
)

// recordThrough runs m through ServeDNS as the reply of the next plugin and decodes what was
// captured, as the writer would.
func recordThrough(t *testing.T, cfg config, q, reply *dns.Msg) *record.Batch {
	t.Helper()
	if cfg.queue == 0 {
		cfg.queue, cfg.sensor = 10, "test"
	}
	p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, nil)}
	p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return dns.RcodeSuccess, w.WriteMsg(reply)
	})
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := p.ServeDNS(context.Background(), rec, q); err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	if rec.Msg != reply {
		t.Fatalf("client did not get the reply")
	}
	b := &record.Batch{}
	for q, ok := p.writer.queue.Take(); ok; q, ok = p.writer.queue.Take() {
		c := q.Capture()
		if err := b.Add(&c, new(record.Decoder), cfg.sensor); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	return b
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return r
}

func TestExtraction(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 bytes on the wire
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		ns      []string
		tweak   func(m *dns.Msg)
		wantQ   string // stored qname
		wantAns [][3]string
		wantNs  [][3]string
		wantRc  string
	}{
		{name: "A", qname: "www.example.org.", qtype: dns.TypeA,
			answer:  []string{"www.example.org. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2"},
			wantAns: [][3]string{{"www.example.org.", "A", "192.0.2.1"}, {"www.example.org.", "A", "192.0.2.2"}}},
		{name: "AAAA", qname: "v6.example.org.", qtype: dns.TypeAAAA,
			answer:  []string{"v6.example.org. 60 IN AAAA 2001:DB8::0:1"},
			wantAns: [][3]string{{"v6.example.org.", "AAAA", "2001:db8::1"}}},
		{name: "CNAME chain", qname: "a.example.org.", qtype: dns.TypeA,
			answer: []string{"a.example.org. 60 IN CNAME B.Example.org.", "b.example.org. 60 IN CNAME c.example.net.", "c.example.net. 60 IN A 192.0.2.3"},
			wantAns: [][3]string{{"a.example.org.", "CNAME", "b.example.org."}, {"b.example.org.", "CNAME", "c.example.net."},
				{"c.example.net.", "A", "192.0.2.3"}}},
		{name: "MX NS SRV PTR lowered targets", qname: "example.org.", qtype: dns.TypeANY,
			answer: []string{"example.org. 60 IN MX 10 MAIL.example.org.", "example.org. 60 IN NS NS1.Example.org.",
				"_sip._tcp.example.org. 60 IN SRV 1 2 5060 SIP.example.org.", "1.2.0.192.in-addr.arpa. 60 IN PTR Host.Example.org."},
			wantAns: [][3]string{{"example.org.", "MX", "10 mail.example.org."}, {"example.org.", "NS", "ns1.example.org."},
				{"_sip._tcp.example.org.", "SRV", "1 2 5060 sip.example.org."}, {"1.2.0.192.in-addr.arpa.", "PTR", "host.example.org."}}},
		{name: "TXT with quotes and non-ASCII", qname: "txt.example.org.", qtype: dns.TypeTXT,
			answer:  []string{`txt.example.org. 60 IN TXT "say \"hi\"" "caf\195\169" "back\\slash"`},
			wantAns: [][3]string{{"txt.example.org.", "TXT", `"say \"hi\"" "caf\195\169" "back\\slash"`}}},
		{name: "SOA", qname: "example.org.", qtype: dns.TypeSOA,
			answer:  []string{"example.org. 60 IN SOA NS1.example.org. Hostmaster.example.org. 2024010101 7200 3600 1209600 300"},
			wantAns: [][3]string{{"example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300"}}},
		{name: "CAA keeps value case", qname: "example.org.", qtype: dns.TypeCAA,
			answer:  []string{`example.org. 60 IN CAA 0 issue "Letsencrypt.org"`},
			wantAns: [][3]string{{"example.org.", "CAA", `0 issue "Letsencrypt.org"`}}},
		{name: "HTTPS and SVCB", qname: "example.org.", qtype: dns.TypeHTTPS,
			answer: []string{`example.org. 60 IN HTTPS 1 CDN.example.net. alpn="h2,h3" ipv4hint="192.0.2.9"`,
				`_dns.example.org. 60 IN SVCB 1 DNS.example.org. alpn="dot"`},
			wantAns: [][3]string{{"example.org.", "HTTPS", `1 cdn.example.net. alpn="h2,h3" ipv4hint="192.0.2.9"`},
				{"_dns.example.org.", "SVCB", `1 dns.example.org. alpn="dot"`}}},
		{name: "unknown type", qname: "x.example.org.", qtype: 65280,
			answer:  []string{`x.example.org. 60 IN TYPE65280 \# 3 abcdef`},
			wantAns: [][3]string{{"x.example.org.", "TYPE65280", `\# 3 abcdef`}}},
		{name: "NXDOMAIN with SOA", qname: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			ns:     []string{"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"},
			wantNs: [][3]string{{"example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"}}, wantRc: "NXDOMAIN"},
		{name: "NODATA", qname: "www.example.org.", qtype: dns.TypeMX,
			ns:     []string{"example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"},
			wantNs: [][3]string{{"example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300"}}},
		{name: "truncated", qname: "big.example.org.", qtype: dns.TypeTXT, tweak: func(m *dns.Msg) { m.Truncated = true }},
		{name: "EDNS0 extended rcode", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeBadVers,
			tweak: func(m *dns.Msg) { m.SetEdns0(1232, true) }, wantRc: "BADVERS"},
		{name: "255-byte name", qname: long, qtype: dns.TypeA,
			answer: []string{long + " 60 IN A 192.0.2.4"}, wantAns: [][3]string{{long, "A", "192.0.2.4"}}},
		{name: "escaped and binary labels", qname: `a\.b.example.org.`, qtype: dns.TypeA,
			answer:  []string{`a\.b.example.org. 60 IN A 192.0.2.5`, `\000\255\"q\\.example.org. 60 IN CNAME x\032y.example.org.`},
			wantAns: [][3]string{{`a\.b.example.org.`, "A", "192.0.2.5"}, {`\000\255\"q\\.example.org.`, "CNAME", `x\ y.example.org.`}}},
		{name: "mixed case 0x20", qname: "wWw.ExAmPlE.oRg.", qtype: dns.TypeA,
			answer: []string{"wWw.ExAmPlE.oRg. 60 IN A 192.0.2.6"}, wantQ: "www.example.org.",
			wantAns: [][3]string{{"www.example.org.", "A", "192.0.2.6"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(tc.qname, tc.qtype)
			reply := new(dns.Msg)
			reply.SetRcode(q, tc.rcode)
			reply.Compress = true
			for _, s := range tc.answer {
				reply.Answer = append(reply.Answer, rr(t, s))
			}
			for _, s := range tc.ns {
				reply.Ns = append(reply.Ns, rr(t, s))
			}
			if tc.tweak != nil {
				tc.tweak(reply)
			}
			b := recordThrough(t, config{}, q, reply)
			if b.Len() != 1 {
				t.Fatalf("got %d rows, want 1", b.Len())
			}
			wantQ := tc.wantQ
			if wantQ == "" {
				wantQ = strings.ToLower(tc.qname)
			}
			if b.Rows().QName[0] != wantQ {
				t.Errorf("qname %q, want %q", b.Rows().QName[0], wantQ)
			}
			if b.Rows().QType[0] != record.TypeString(tc.qtype) || b.Rows().QClass[0] != "IN" {
				t.Errorf("qtype %q qclass %q", b.Rows().QType[0], b.Rows().QClass[0])
			}
			wantRc := tc.wantRc
			if wantRc == "" {
				wantRc = "NOERROR"
			}
			if b.Rows().RCode[0] != wantRc {
				t.Errorf("rcode %q, want %q", b.Rows().RCode[0], wantRc)
			}
			checkSection(t, "answer", &b.Rows().Answer, tc.wantAns)
			checkSection(t, "authority", &b.Rows().Authority, tc.wantNs)
			wire, _ := reply.Pack()
			if int(b.Rows().Size[0]) != len(wire) {
				t.Errorf("size %d, want %d (compressed as sent)", b.Rows().Size[0], len(wire))
			}
			if got, want := b.Rows().Flags[0], uint16(wire[2])<<8|uint16(wire[3]); got != want {
				t.Errorf("flags %#04x, want %#04x", got, want)
			}
			if tc.name == "truncated" && b.Rows().Flags[0]&(1<<9) == 0 {
				t.Errorf("TC bit missing from flags %#04x", b.Rows().Flags[0])
			}
		})
	}
}

func checkSection(t *testing.T, name string, s *record.Section, want [][3]string) {
	t.Helper()
	var got [][3]string
	for i := range s.Name[0] {
		got = append(got, [3]string{s.Name[0][i], s.Type[0][i], s.Data[0][i]})
		if s.Class[0][i] != "IN" {
			t.Errorf("%s %d: class %q", name, i, s.Class[0][i])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", name, got, want)
	}
}

// The reply may be reused or changed by the plugin that wrote it once WriteMsg returns:
// the capture must be a copy.
func TestCaptureIsACopy(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	reply := new(dns.Msg)
	reply.SetReply(q)
	reply.Answer = []dns.RR{rr(t, "www.example.org. 60 IN A 192.0.2.1")}
	cfg := config{queue: 10, sensor: "s"}
	p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, nil)}
	p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		err := w.WriteMsg(reply)
		reply.Answer[0].(*dns.A).A = []byte{198, 51, 100, 1} // reused after the write
		return 0, err
	})
	p.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), q)
	queued, ok := p.writer.queue.Take()
	if !ok {
		t.Fatal("nothing queued")
	}
	c := queued.Capture()
	b := &record.Batch{}
	b.Add(&c, new(record.Decoder), "s")
	if got := b.Rows().Answer.Data[0][0]; got != "192.0.2.1" {
		t.Errorf("recorded %q, want the address that was sent", got)
	}
}

func TestClientsModeThroughServeDNS(t *testing.T) {
	// Through ServeDNS: test.ResponseWriter's client is 10.240.0.1 over UDP.
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	reply := new(dns.Msg)
	reply.SetReply(q)
	b := recordThrough(t, config{queue: 1, sensor: "s", clients: record.ClientsPrefix}, q, reply)
	if b.Rows().Client[0].String() != "10.240.0.0" || b.Rows().Transport[0] != "udp" {
		t.Errorf("client %s transport %s", b.Rows().Client[0], b.Rows().Transport[0])
	}
}

func TestTransport(t *testing.T) {
	tcp := (&test.ResponseWriter{TCP: true}).RemoteAddr()
	udp := (&test.ResponseWriter{}).RemoteAddr()
	tests := []struct {
		server string
		remote any
		want   string
	}{
		{"dns://:53", udp, "udp"},
		{"dns://127.0.0.1:53", tcp, "tcp"},
		{"", udp, "udp"},
		{"tls://:853", tcp, "tls"},
		{"https://:443", tcp, "https"},
		{"grpc://:443", tcp, "grpc"},
		{"quic://:853", udp, "quic"},
	}
	for _, tc := range tests {
		addr := udp
		if tc.remote == tcp {
			addr = tcp
		}
		if got := transport(tc.server, addr); got != tc.want {
			t.Errorf("transport(%q) = %q, want %q", tc.server, got, tc.want)
		}
	}
}
