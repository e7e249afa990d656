package record

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/wire/wiretest"
)

// addMiekg is how rows were made before the wire walk (Msg.Unpack, miekg/dns's text,
// packing again for the size): the reference Add must match byte for byte.
func (b *Rows) addMiekg(c *Capture, sensor string) error {
	var m dns.Msg
	if err := m.Unpack(c.Wire); err != nil {
		return err
	}
	size := c.Size
	if size == 0 {
		m.Compress = c.Compress
		wire, err := m.Pack()
		if err != nil {
			return err
		}
		size = uint32(len(wire))
	}
	t := c.Time.UTC().Truncate(time.Millisecond) // stored to the millisecond
	b.Time = append(b.Time, t)
	b.TimeMs = append(b.TimeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
	b.Sensor = append(b.Sensor, sensor)
	b.Server = append(b.Server, c.Server)
	b.Transport = append(b.Transport, c.Transport)
	b.Client = append(b.Client, c.Client)
	var qname, qtype, qclass string
	if len(m.Question) > 0 {
		q := m.Question[0]
		qname, qtype, qclass = CanonicalName(q.Name), TypeString(q.Qtype), wiretest.ClassString(q.Qclass)
	}
	b.QName = append(b.QName, qname)
	b.QType = append(b.QType, qtype)
	b.QClass = append(b.QClass, qclass)
	b.RCode = append(b.RCode, wiretest.RcodeString(m.Rcode))
	b.Flags = append(b.Flags, binary.BigEndian.Uint16(c.Wire[2:4]))
	b.Answer.addMiekg(m.Answer)
	b.Authority.addMiekg(m.Ns)
	b.Size = append(b.Size, size)
	b.DurationUs = append(b.DurationUs, uint32(c.Elapsed.Microseconds()))
	return nil
}

func (s *Section) addMiekg(rrs []dns.RR) {
	var name, typ, class, data []string
	var ttl []uint32
	for _, rr := range rrs {
		h := rr.Header()
		name = append(name, CanonicalName(h.Name))
		typ = append(typ, TypeString(h.Rrtype))
		class = append(class, wiretest.ClassString(h.Class))
		ttl = append(ttl, h.Ttl)
		data = append(data, wiretest.Rdata(rr))
	}
	s.Name, s.Type, s.Class, s.TTL, s.Data = append(s.Name, name), append(s.Type, typ), append(s.Class, class), append(s.TTL, ttl), append(s.Data, data)
}

// rowsOf is a batch's rows as comparable values (nil and empty sections alike).
func rowsOf(b *Rows) []string {
	var out []string
	for i := range b.Time {
		out = append(out, strings.Join([]string{b.Time[i].String(), strconv.Itoa(int(b.TimeMs[i])), b.Sensor[i],
			b.Server[i], b.Transport[i], b.Client[i].String(), b.QName[i], b.QType[i], b.QClass[i], b.RCode[i],
			strconv.Itoa(int(b.Flags[i])), strconv.Itoa(int(b.Size[i])), strconv.Itoa(int(b.DurationUs[i]))}, "|"))
		for _, s := range []*Section{&b.Answer, &b.Authority} {
			out = append(out, strings.Join(s.Name[i], ",")+"|"+strings.Join(s.Type[i], ",")+"|"+
				strings.Join(s.Class[i], ",")+"|"+strings.Join(s.Data[i], ",")+"|"+
				fmt.Sprint(s.TTL[i]))
		}
	}
	return out
}

// compareAdd adds c to reused (a batch that has been Reset before) and checks the row
// against the reference, and that both fail alike.
func compareAdd(t *testing.T, reused *Batch, d *Decoder, c Capture) {
	t.Helper()
	if c.Time.IsZero() {
		c.Time = time.Unix(1700000000, 123456789) // a capture always has its time
	}
	var ref Rows
	errRef := ref.addMiekg(&c, "s")
	reused.Reset(7)
	err := reused.Add(&c, d, "s")
	if (err == nil) != (errRef == nil) {
		t.Fatalf("Add: %v, reference: %v", err, errRef)
	}
	if got, want := rowsOf(reused.Rows()), rowsOf(&ref); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ from the reference\n got %q\nwant %q", got, want)
	}
}

func seedCaptures(tb testing.TB) []Capture {
	q := new(dns.Msg)
	q.SetQuestion("WWW.example.org.", dns.TypeA)
	reply := new(dns.Msg)
	reply.SetReply(q)
	for _, s := range []string{"www.example.org. 300 IN CNAME web.example.net.", "web.example.net. 60 IN A 192.0.2.1",
		"web.example.net. 60 IN A 192.0.2.2"} {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		reply.Answer = append(reply.Answer, rr)
	}
	var out []Capture
	extra := []string{
		"example.org. 300 IN SOA ns1.example.org. hostmaster.Example.org. 1 7200 3600 1209600 300",
		`Txt.example.org. 60 IN TXT "a\"b" "c\\d" "\000\255 x"`,
		"example.org. 60 IN MX 10 MX.example.org.",
		"_sip._tcp.example.org. 60 IN SRV 1 2 5060 SIP.example.org.",
		"example.org. 60 IN CAA 0 issue \"ca.example.net\"",
		"example.org. 60 IN HINFO \"a b\" \"c\"",
		"x.example.org. 60 IN AAAA ::ffff:192.0.2.1",
		`a\.b\000.example.org. 60 IN CNAME X\032Y.example.org.`,
	}
	for _, compress := range []bool{false, true} {
		m := reply.Copy()
		for _, s := range extra {
			rr, err := dns.NewRR(s)
			if err != nil {
				tb.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		m.Compress = compress
		for _, msg := range []*dns.Msg{reply, m} {
			w, err := msg.Pack()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, Capture{Wire: w, Time: time.Unix(1700000000, 123456789), Server: "dns://:53", Transport: "udp", Compress: compress})
		}
	}
	return out
}

// TestAddMatchesMiekg: the rows of the wire walk are those of the miekg/dns path, with a
// batch reused across rows as the writer reuses it.
func TestAddMatchesMiekg(t *testing.T) {
	var reused Batch
	d := new(Decoder)
	for _, c := range seedCaptures(t) {
		compareAdd(t, &reused, d, c)
	}
}

func FuzzAddMatchesMiekg(f *testing.F) {
	for _, c := range seedCaptures(f) {
		f.Add(c.Wire, c.Compress)
	}
	var reused Batch
	d := new(Decoder)
	f.Fuzz(func(t *testing.T, w []byte, compress bool) {
		compareAdd(t, &reused, d, Capture{Wire: w, Compress: compress})
		var m dns.Msg
		if m.Unpack(w) == nil {
			m.Compress = compress
			if again, err := m.Pack(); err == nil {
				compareAdd(t, &reused, d, Capture{Wire: again, Compress: compress})
			}
		}
	})
}

// TestAddNoAllocs: once a reused batch has grown, a typical answer costs no allocation.
func TestAddNoAllocs(t *testing.T) {
	caps := seedCaptures(t)[:1]
	var b Batch
	d := new(Decoder)
	for range 2 {
		b.Reset(1)
		for range 100 {
			b.Add(&caps[0], d, "s")
		}
	}
	n := testing.AllocsPerRun(10, func() {
		b.Reset(1)
		for range 100 {
			b.Add(&caps[0], d, "s")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per 100 rows, want 0", n)
	}
}

// BenchmarkAdd: one typical answer decoded into a batch of 10,000 rows, per op: "miekg" is
// the path before the wire walk (Msg.Unpack, miekg/dns's text, packing again for the size,
// fresh batches); "wire" is Add into a reused batch.
func BenchmarkAdd(b *testing.B) {
	caps := seedCaptures(b)[:1] // a CNAME and two addresses
	caps[0].Compress = true
	b.Run("miekg", func(b *testing.B) {
		b.ReportAllocs()
		batch := new(Rows)
		for i := 0; b.Loop(); i++ {
			if i%10000 == 0 {
				batch = new(Rows)
			}
			batch.addMiekg(&caps[i%len(caps)], "s")
		}
	})
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		batch := new(Batch)
		d := new(Decoder)
		for i := 0; b.Loop(); i++ {
			if i%10000 == 0 {
				batch.Reset(1)
			}
			batch.Add(&caps[i%len(caps)], d, "s")
		}
	})
}
