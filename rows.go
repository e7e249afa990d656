package passivedns

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
type batch struct {
	id        uint64 // random; lets a retry find out whether an earlier attempt landed
	uncertain bool   // an earlier insert attempt may have been written

	caps []capture // the captures of the rows, kept to spool the batch if ClickHouse fails

	time       []time.Time
	timeMs     []uint16
	sensor     []string
	server     []string
	transport  []string
	client     []netip.Addr
	qname      []string
	qtype      []string
	qclass     []string
	rcode      []string
	flags      []uint16
	answer     section
	authority  section
	size       []uint32
	durationUs []uint32
}

// section is one message section as the columns of a Nested field.
type section struct {
	name  [][]string
	typ   [][]string
	class [][]string
	ttl   [][]uint32
	data  [][]string

	strs []string // backing store of the rows above
	nums []uint32
}

func (b *batch) len() int { return len(b.time) }

// decoder is the writer's scratch space for turning captures into rows.
type decoder struct {
	msg dns.Msg
	buf []byte
}

// add decodes one captured response.
func (b *batch) add(c *capture, d *decoder, sensor string) error {
	m := &d.msg
	*m = dns.Msg{}
	if err := m.Unpack(c.wire); err != nil {
		return err
	}
	size := c.size
	if size == 0 {
		// Packing again as the server did gives the exact size sent; Msg.Len is an
		// estimate that is off for escaped TXT data.
		m.Compress = c.compress
		if d.buf == nil {
			d.buf = make([]byte, dns.MaxMsgSize)
		}
		wire, err := m.PackBuffer(d.buf)
		if err != nil {
			return err
		}
		size = uint32(len(wire))
	}
	t := c.time.UTC()
	b.caps = append(b.caps, *c)
	b.time = append(b.time, t)
	b.timeMs = append(b.timeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
	b.sensor = append(b.sensor, sensor)
	b.server = append(b.server, c.server)
	b.transport = append(b.transport, c.transport)
	b.client = append(b.client, c.client)
	var qname, qtype, qclass string
	if len(m.Question) > 0 {
		q := m.Question[0]
		qname, qtype, qclass = canonicalName(q.Name), typeString(q.Qtype), classString(q.Qclass)
	}
	b.qname = append(b.qname, qname)
	b.qtype = append(b.qtype, qtype)
	b.qclass = append(b.qclass, qclass)
	b.rcode = append(b.rcode, rcodeString(m.Rcode))
	b.flags = append(b.flags, binary.BigEndian.Uint16(c.wire[2:4]))
	b.answer.add(m.Answer)
	b.authority.add(m.Ns)
	b.size = append(b.size, size)
	us := c.elapsed.Microseconds()
	if us > int64(^uint32(0)) {
		us = int64(^uint32(0))
	}
	b.durationUs = append(b.durationUs, uint32(us))
	return nil
}

func (s *section) add(rrs []dns.RR) {
	// The row's slices are cut from section-wide arenas: one allocation now and then
	// instead of five per section per response.
	n := len(rrs)
	start := len(s.strs)
	for _, rr := range rrs {
		s.strs = append(s.strs, canonicalName(rr.Header().Name))
	}
	for _, rr := range rrs {
		s.strs = append(s.strs, typeString(rr.Header().Rrtype))
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
	s.name = append(s.name, cut(0))
	s.typ = append(s.typ, cut(1))
	s.class = append(s.class, cut(2))
	s.data = append(s.data, cut(3))
	s.ttl = append(s.ttl, s.nums[tstart:tstart+n:tstart+n])
}

// subset returns the rows for which keep is true, as a new batch with the same id.
func (b *batch) subset(keep func(i int) bool) *batch {
	n := &batch{id: b.id}
	for i := range b.time {
		if !keep(i) {
			continue
		}
		if i < len(b.caps) {
			n.caps = append(n.caps, b.caps[i])
		}
		n.time = append(n.time, b.time[i])
		n.timeMs = append(n.timeMs, b.timeMs[i])
		n.sensor = append(n.sensor, b.sensor[i])
		n.server = append(n.server, b.server[i])
		n.transport = append(n.transport, b.transport[i])
		n.client = append(n.client, b.client[i])
		n.qname = append(n.qname, b.qname[i])
		n.qtype = append(n.qtype, b.qtype[i])
		n.qclass = append(n.qclass, b.qclass[i])
		n.rcode = append(n.rcode, b.rcode[i])
		n.flags = append(n.flags, b.flags[i])
		n.answer.copyRow(&b.answer, i)
		n.authority.copyRow(&b.authority, i)
		n.size = append(n.size, b.size[i])
		n.durationUs = append(n.durationUs, b.durationUs[i])
	}
	return n
}

func (s *section) copyRow(from *section, i int) {
	s.name = append(s.name, from.name[i])
	s.typ = append(s.typ, from.typ[i])
	s.class = append(s.class, from.class[i])
	s.ttl = append(s.ttl, from.ttl[i])
	s.data = append(s.data, from.data[i])
}

// canonicalName is the stored form of a domain name: presentation format as miekg/dns
// prints it (escapes kept, so binary labels and dots inside labels survive), fully
// qualified, with ASCII letters lowered. Bytes outside printable ASCII are already
// \DDD escapes, so lowering cannot touch them.
func canonicalName(s string) string {
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

func typeString(t uint16) string {
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
		return canonicalName(v.Target)
	case *dns.NS:
		return canonicalName(v.Ns)
	case *dns.PTR:
		return canonicalName(v.Ptr)
	}
	switch v := rr.(type) {
	case *dns.DNAME:
		c := *v
		c.Target = canonicalName(c.Target)
		rr = &c
	case *dns.MX:
		c := *v
		c.Mx = canonicalName(c.Mx)
		rr = &c
	case *dns.SRV:
		c := *v
		c.Target = canonicalName(c.Target)
		rr = &c
	case *dns.SOA:
		c := *v
		c.Ns, c.Mbox = canonicalName(c.Ns), canonicalName(c.Mbox)
		rr = &c
	case *dns.SVCB:
		c := *v
		c.Target = canonicalName(c.Target)
		rr = &c
	case *dns.HTTPS:
		c := *v
		c.Target = canonicalName(c.Target)
		rr = &c
	case *dns.KX:
		c := *v
		c.Exchanger = canonicalName(c.Exchanger)
		rr = &c
	case *dns.NAPTR:
		c := *v
		c.Replacement = canonicalName(c.Replacement)
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
func newBatchID() uint64 { return rand.Uint64() }

func reverseString(s string) string {
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[len(s)-1-i] = s[i]
	}
	return string(r)
}
