package wire

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// The reference: what the root package's rows.go stores for a captured answer, with
// its rules copied here (the root package cannot be imported from internal/). The
// walk must match it byte for byte.

type row struct {
	qname, qtype, qclass, rcode string
	flags                       uint16
	answer, authority           [][5]string // name, type, class, ttl, data
	size                        int
	sizeErr                     bool
}

func refRow(wire []byte, compress bool) (row, error) {
	var m dns.Msg
	if err := m.Unpack(wire); err != nil {
		return row{}, err
	}
	var r row
	if len(m.Question) > 0 {
		q := m.Question[0]
		r.qname, r.qtype, r.qclass = refCanonicalName(q.Name), refTypeString(q.Qtype), refClassString(q.Qclass)
	}
	r.rcode = refRcodeString(m.Rcode)
	r.flags = binary.BigEndian.Uint16(wire[2:4])
	r.answer = refSection(m.Answer)
	r.authority = refSection(m.Ns)
	m.Compress = compress
	packed, err := m.PackBuffer(refBuf)
	if err != nil {
		r.sizeErr = true
	} else {
		r.size = len(packed)
	}
	return r, nil
}

var refBuf = make([]byte, dns.MaxMsgSize)

func refSection(rrs []dns.RR) [][5]string {
	var out [][5]string
	for _, rr := range rrs {
		h := rr.Header()
		out = append(out, [5]string{refCanonicalName(h.Name), refTypeString(h.Rrtype), refClassString(h.Class),
			strconv.FormatUint(uint64(h.Ttl), 10), refRdata(rr)})
	}
	return out
}

func refCanonicalName(s string) string {
	return dns.Fqdn(refLowerASCII(s))
}

func refLowerASCII(s string) string {
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

func refTypeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func refClassString(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

func refRcodeString(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

func refRdata(rr dns.RR) string {
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
		return refCanonicalName(v.Target)
	case *dns.NS:
		return refCanonicalName(v.Ns)
	case *dns.PTR:
		return refCanonicalName(v.Ptr)
	}
	switch v := rr.(type) {
	case *dns.DNAME:
		c := *v
		c.Target = refCanonicalName(c.Target)
		rr = &c
	case *dns.MX:
		c := *v
		c.Mx = refCanonicalName(c.Mx)
		rr = &c
	case *dns.SRV:
		c := *v
		c.Target = refCanonicalName(c.Target)
		rr = &c
	case *dns.SOA:
		c := *v
		c.Ns, c.Mbox = refCanonicalName(c.Ns), refCanonicalName(c.Mbox)
		rr = &c
	case *dns.SVCB:
		c := *v
		c.Target = refCanonicalName(c.Target)
		rr = &c
	case *dns.HTTPS:
		c := *v
		c.Target = refCanonicalName(c.Target)
		rr = &c
	case *dns.KX:
		c := *v
		c.Exchanger = refCanonicalName(c.Exchanger)
		rr = &c
	case *dns.NAPTR:
		c := *v
		c.Replacement = refCanonicalName(c.Replacement)
		rr = &c
	}
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

// walkRow is the same row from the Decoder.
func walkRow(d *Decoder, wire []byte, compress bool) (row, bool, error) {
	if err := d.Reset(wire); err != nil {
		return row{}, false, err
	}
	var r row
	if d.Questions() > 0 {
		r.qname = string(d.AppendQName(nil))
		r.qtype, r.qclass = TypeName(d.QType()), ClassName(d.QClass())
	}
	r.rcode = RcodeName(d.Rcode())
	r.flags = d.Flags()
	for i := range d.NumAnswer() {
		r.answer = append(r.answer, walkRecord(d.Answer(i)))
	}
	for i := range d.NumAuthority() {
		r.authority = append(r.authority, walkRecord(d.Authority(i)))
	}
	size, ok := d.Size(compress)
	r.size = size
	return r, ok, nil
}

func walkRecord(x Record) [5]string {
	return [5]string{string(x.AppendName(nil)), TypeName(x.Type()), ClassName(x.Class()),
		strconv.FormatUint(uint64(x.TTL()), 10), string(x.AppendRdata(nil))}
}
