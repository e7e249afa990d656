package record

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// batch holds decoded responses column by column, in the order of the responses table,
// so an insert appends whole columns at once.
type Batch struct {
	ID        uint64 // random; lets a retry find out whether an earlier attempt landed
	Uncertain bool   // an earlier insert attempt may have been written

	Caps []Capture // the captures of the rows, kept to spool the batch if ClickHouse fails

	Time       []time.Time
	TimeMs     []uint16
	Sensor     []string
	Server     []string
	Transport  []string
	Client     []netip.Addr
	QName      []string
	QType      []string
	QClass     []string
	RCode      []string
	Flags      []uint16
	Answer     Section
	Authority  Section
	Size       []uint32
	DurationUs []uint32
}

// section is one message section as the columns of a Nested field.
type Section struct {
	Name  [][]string
	Type  [][]string
	Class [][]string
	TTL   [][]uint32
	Data  [][]string

	strs []string // backing store of the rows above
	nums []uint32
}

func (b *Batch) Len() int { return len(b.Time) }

// decoder is the writer's scratch space for turning captures into rows.
type Decoder struct {
	msg dns.Msg
	buf []byte
}

// add decodes one captured response.
func (b *Batch) Add(c *Capture, d *Decoder, sensor string) error {
	m := &d.msg
	*m = dns.Msg{}
	if err := m.Unpack(c.Wire); err != nil {
		return err
	}
	size := c.Size
	if size == 0 {
		// Packing again as the server did gives the exact size sent; Msg.Len is an
		// estimate that is off for escaped TXT data.
		m.Compress = c.Compress
		if d.buf == nil {
			d.buf = make([]byte, dns.MaxMsgSize)
		}
		wire, err := m.PackBuffer(d.buf)
		if err != nil {
			return err
		}
		size = uint32(len(wire))
	}
	t := c.Time.UTC()
	b.Caps = append(b.Caps, *c)
	b.Time = append(b.Time, t)
	b.TimeMs = append(b.TimeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
	b.Sensor = append(b.Sensor, sensor)
	b.Server = append(b.Server, c.Server)
	b.Transport = append(b.Transport, c.Transport)
	b.Client = append(b.Client, c.Client)
	var qname, qtype, qclass string
	if len(m.Question) > 0 {
		q := m.Question[0]
		qname, qtype, qclass = CanonicalName(q.Name), TypeString(q.Qtype), classString(q.Qclass)
	}
	b.QName = append(b.QName, qname)
	b.QType = append(b.QType, qtype)
	b.QClass = append(b.QClass, qclass)
	b.RCode = append(b.RCode, rcodeString(m.Rcode))
	b.Flags = append(b.Flags, binary.BigEndian.Uint16(c.Wire[2:4]))
	b.Answer.add(m.Answer)
	b.Authority.add(m.Ns)
	b.Size = append(b.Size, size)
	us := c.Elapsed.Microseconds()
	if us > int64(^uint32(0)) {
		us = int64(^uint32(0))
	}
	b.DurationUs = append(b.DurationUs, uint32(us))
	return nil
}

func (s *Section) add(rrs []dns.RR) {
	// The row's slices are cut from section-wide arenas: one allocation now and then
	// instead of five per section per response.
	n := len(rrs)
	start := len(s.strs)
	for _, rr := range rrs {
		s.strs = append(s.strs, CanonicalName(rr.Header().Name))
	}
	for _, rr := range rrs {
		s.strs = append(s.strs, TypeString(rr.Header().Rrtype))
	}
	for _, rr := range rrs {
		s.strs = append(s.strs, classString(rr.Header().Class))
	}
	for _, rr := range rrs {
		s.strs = append(s.strs, rdata(rr))
	}
	tstart := len(s.nums)
	for _, rr := range rrs {
		s.nums = append(s.nums, rr.Header().Ttl)
	}
	cut := func(i int) []string { return s.strs[start+i*n : start+(i+1)*n : start+(i+1)*n] }
	s.Name = append(s.Name, cut(0))
	s.Type = append(s.Type, cut(1))
	s.Class = append(s.Class, cut(2))
	s.Data = append(s.Data, cut(3))
	s.TTL = append(s.TTL, s.nums[tstart:tstart+n:tstart+n])
}

// subset returns the rows for which keep is true, as a new batch with the same id.
func (b *Batch) Subset(keep func(i int) bool) *Batch {
	n := &Batch{ID: b.ID}
	for i := range b.Time {
		if !keep(i) {
			continue
		}
		if i < len(b.Caps) {
			n.Caps = append(n.Caps, b.Caps[i])
		}
		n.Time = append(n.Time, b.Time[i])
		n.TimeMs = append(n.TimeMs, b.TimeMs[i])
		n.Sensor = append(n.Sensor, b.Sensor[i])
		n.Server = append(n.Server, b.Server[i])
		n.Transport = append(n.Transport, b.Transport[i])
		n.Client = append(n.Client, b.Client[i])
		n.QName = append(n.QName, b.QName[i])
		n.QType = append(n.QType, b.QType[i])
		n.QClass = append(n.QClass, b.QClass[i])
		n.RCode = append(n.RCode, b.RCode[i])
		n.Flags = append(n.Flags, b.Flags[i])
		n.Answer.copyRow(&b.Answer, i)
		n.Authority.copyRow(&b.Authority, i)
		n.Size = append(n.Size, b.Size[i])
		n.DurationUs = append(n.DurationUs, b.DurationUs[i])
	}
	return n
}

func (s *Section) copyRow(from *Section, i int) {
	s.Name = append(s.Name, from.Name[i])
	s.Type = append(s.Type, from.Type[i])
	s.Class = append(s.Class, from.Class[i])
	s.TTL = append(s.TTL, from.TTL[i])
	s.Data = append(s.Data, from.Data[i])
}

// canonicalName is the stored form of a domain name: presentation format as miekg/dns
// prints it (escapes kept, so binary labels and dots inside labels survive), fully
// qualified, with ASCII letters lowered. Bytes outside printable ASCII are already
// \DDD escapes, so lowering cannot touch them.
func CanonicalName(s string) string {
	return dns.Fqdn(lowerASCII(s))
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func TypeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func classString(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

func rcodeString(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS" // in a message header 16 is BADVERS; miekg/dns names it BADSIG (TSIG)
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// rdata is the record data in presentation format, with the domain names inside it
// lowered so that history lookups by target name are case-insensitive like DNS.
func rdata(rr dns.RR) string {
	// The most common types directly, as miekg/dns prints them, without printing the
	// header only to cut it off again.
	switch v := rr.(type) {
	case *dns.A:
		if v.A == nil {
			return ""
		}
		return v.A.String()
	case *dns.AAAA:
		if v.AAAA == nil {
			return ""
		}
		if v.AAAA.To4() != nil {
			return "::ffff:" + v.AAAA.String()
		}
		return v.AAAA.String()
	case *dns.CNAME:
		return CanonicalName(v.Target)
	case *dns.NS:
		return CanonicalName(v.Ns)
	case *dns.PTR:
		return CanonicalName(v.Ptr)
	}
	switch v := rr.(type) {
	case *dns.DNAME:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.MX:
		c := *v
		c.Mx = CanonicalName(c.Mx)
		rr = &c
	case *dns.SRV:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.SOA:
		c := *v
		c.Ns, c.Mbox = CanonicalName(c.Ns), CanonicalName(c.Mbox)
		rr = &c
	case *dns.SVCB:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.HTTPS:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.KX:
		c := *v
		c.Exchanger = CanonicalName(c.Exchanger)
		rr = &c
	case *dns.NAPTR:
		c := *v
		c.Replacement = CanonicalName(c.Replacement)
		rr = &c
	}
	// The text is "owner<TAB>ttl<TAB>class<TAB>type<TAB>data"; names escape tabs, so
	// the data starts after the fourth tab.
	s := rr.String()
	for range 4 {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	return s
}

// newBatchID is a random batch id: it lets a retry find out whether an earlier attempt landed.
func NewBatchID() uint64 { return rand.Uint64() }

func Reverse(s string) string {
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[len(s)-1-i] = s[i]
	}
	return string(r)
}
