package wire

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/wire/wiretest"
)

// benchMessages is a realistic mix of 4-record answers as the recorder captures them
// (packed without compression, sent compressed): CNAME chains to addresses, v4 and
// v6, mail and text records.
func benchMessages(tb testing.TB) [][]byte {
	msgs := []*dns.Msg{
		reply(tb, "www.example.com.", dns.TypeA, 0, []string{
			"www.example.com. 300 IN CNAME www.example.com.cdn.example.net.",
			"www.example.com.cdn.example.net. 60 IN CNAME e1234.a.cdnedge.net.",
			"e1234.a.cdnedge.net. 20 IN A 192.0.2.10",
			"e1234.a.cdnedge.net. 20 IN A 192.0.2.11"}, nil, nil),
		reply(tb, "api.example.org.", dns.TypeAAAA, 0, []string{
			"api.example.org. 300 IN CNAME api-lb.eu-west-1.example.org.",
			"api-lb.eu-west-1.example.org. 60 IN AAAA 2001:db8:10::1",
			"api-lb.eu-west-1.example.org. 60 IN AAAA 2001:db8:10::2",
			"api-lb.eu-west-1.example.org. 60 IN AAAA 2001:db8:10::3"}, nil, nil),
		reply(tb, "example.net.", dns.TypeMX, 0, []string{
			"example.net. 3600 IN MX 10 mx1.mail.example.net.",
			"example.net. 3600 IN MX 20 mx2.mail.example.net.",
			"example.net. 3600 IN MX 30 mx3.mail.example.net.",
			"example.net. 3600 IN MX 40 backup.example.com."}, nil, nil),
		reply(tb, "example.org.", dns.TypeTXT, 0, []string{
			`example.org. 300 IN TXT "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 -all"`,
			`example.org. 300 IN TXT "google-site-verification=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"`,
			`example.org. 300 IN TXT "MS=ms12345678"`,
			`example.org. 300 IN TXT "apple-domain-verification=AbCdEfGhIjKlMnOp"`}, nil, nil),
		reply(tb, "Img.Example.COM.", dns.TypeA, 0, []string{
			"img.example.com. 120 IN A 198.51.100.1",
			"img.example.com. 120 IN A 198.51.100.2",
			"img.example.com. 120 IN A 198.51.100.3",
			"img.example.com. 120 IN A 198.51.100.4"}, nil, func(m *dns.Msg) { m.SetEdns0(1232, false) }),
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, pack(tb, m, false))
	}
	return out
}

// BenchmarkDecode: one captured answer to its row text and size, per op. "miekg" is
// what rows.go does today (Unpack, strings, packing again for the size); "walk" is
// the Decoder appending to reused column buffers.
func BenchmarkDecode(b *testing.B) {
	msgs := benchMessages(b)
	b.Run("miekg", func(b *testing.B) {
		var m dns.Msg
		buf := make([]byte, dns.MaxMsgSize)
		var strs []string
		var nums []uint32
		b.ReportAllocs()
		defer reportCPU(b, cpuTime())
		for i := 0; b.Loop(); i++ {
			w := msgs[i%len(msgs)]
			m = dns.Msg{}
			if err := m.Unpack(w); err != nil {
				b.Fatal(err)
			}
			m.Compress = true
			packed, err := m.PackBuffer(buf)
			if err != nil {
				b.Fatal(err)
			}
			strs = strs[:0]
			nums = nums[:0]
			q := m.Question[0]
			strs = append(strs, wiretest.CanonicalName(q.Name), wiretest.TypeString(q.Qtype), wiretest.ClassString(q.Qclass), wiretest.RcodeString(m.Rcode))
			for _, rr := range m.Answer {
				h := rr.Header()
				strs = append(strs, wiretest.CanonicalName(h.Name), wiretest.TypeString(h.Rrtype), wiretest.ClassString(h.Class), wiretest.Rdata(rr))
				nums = append(nums, h.Ttl)
			}
			nums = append(nums, uint32(len(packed)), uint32(binary.BigEndian.Uint16(w[2:])))
		}
	})
	for _, withSize := range []bool{true, false} {
		name := "walk"
		if !withSize {
			name = "walk-nosize" // the text alone, for where the size is known
		}
		b.Run(name, func(b *testing.B) {
			var d Decoder
			var names, data []byte
			var strs []string
			var nums []uint32
			b.ReportAllocs()
			defer reportCPU(b, cpuTime())
			for i := 0; b.Loop(); i++ {
				w := msgs[i%len(msgs)]
				if err := d.Reset(w); err != nil {
					b.Fatal(err)
				}
				if i%10000 == 0 { // a batch went out: the columns are reused
					names, data, strs, nums = names[:0], data[:0], strs[:0], nums[:0]
				}
				names = d.AppendQName(names)
				strs = append(strs, TypeName(d.QType()), ClassName(d.QClass()), RcodeName(d.Rcode()))
				for j := range d.NumAnswer() {
					r := d.Answer(j)
					names = r.AppendName(names)
					data = r.AppendRdata(data)
					strs = append(strs, TypeName(r.Type()), ClassName(r.Class()))
					nums = append(nums, r.TTL())
				}
				size := len(w)
				if withSize {
					var ok bool
					if size, ok = d.Size(true); !ok {
						b.Fatal("size not computed")
					}
				}
				nums = append(nums, uint32(size), uint32(d.Flags()))
			}
		})
	}
}

// reportCPU adds the CPU time per message since start, beside the wall time that a
// busy machine inflates.
func reportCPU(b *testing.B, start int64) {
	if end := cpuTime(); end > start && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
