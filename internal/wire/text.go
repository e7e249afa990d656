package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Byte classes for names and TXT strings, as miekg/dns prints them.
const (
	plain   = iota
	upper   // a name's A-Z, stored lowered
	special // escaped with a backslash: \. \" \\ ...
	ddd     // outside printable ASCII: \DDD
)

var nameClass, txtClass [256]uint8

func init() {
	for b := range 256 {
		switch {
		case b < ' ' || b > '~':
			nameClass[b], txtClass[b] = ddd, ddd
		case b == '"' || b == '\\':
			nameClass[b], txtClass[b] = special, special
		case b == '.' || b == ' ' || b == '\'' || b == '@' || b == ';' || b == '(' || b == ')':
			nameClass[b] = special // miekg/dns's isDomainNameLabelSpecial
		case 'A' <= b && b <= 'Z':
			nameClass[b] = upper
		}
	}
}

func appendDDD(dst []byte, b byte) []byte {
	return append(dst, '\\', '0'+b/100, '0'+b/10%10, '0'+b%10)
}

// appendName appends the name at msg[off:] (already checked by skipName) in
// presentation format with ASCII letters lowered: the stored form of a name.
func appendName(dst, msg []byte, off int) []byte {
	start := len(dst)
	for hops := 0; hops <= maxPointers; {
		c := int(msg[off])
		switch {
		case c == 0:
			if len(dst) == start {
				dst = append(dst, '.')
			}
			return dst
		case c&0xC0 == 0xC0:
			off = (c&0x3F)<<8 | int(msg[off+1])
			hops++
			continue
		}
		for _, b := range msg[off+1 : off+1+c] {
			switch nameClass[b] {
			case plain:
				dst = append(dst, b)
			case upper:
				dst = append(dst, b+'a'-'A')
			case special:
				dst = append(dst, '\\', b)
			default:
				dst = appendDDD(dst, b)
			}
		}
		dst = append(dst, '.')
		off += 1 + c
	}
	return dst // not reached: Reset refused the name
}

// nameTexts remembers the stored text of the last few names appended from the message:
// the same name comes again and again in an answer (the question as the first owner, an
// RRset's owners, a CNAME's target as the next owner), and copying its text is cheaper
// than escaping and lowering it again. Reset forgets them.
type nameTexts struct {
	buf     []byte // the texts, one after another
	known   [4]nameText
	n, next int // entries in use; the one to replace next
}

// nameText is a remembered name: its octets in the message and its text in buf.
type nameText struct{ wire, wireEnd, from, to int32 }

// maxNameTexts bounds what nameTexts keeps; past it, it starts over.
const maxNameTexts = 4 << 10

func (t *nameTexts) reset() { t.buf, t.n, t.next = t.buf[:0], 0, 0 }

// appendName is appendName with the names remembered. Equal octets are the same name
// wherever they lie, pointers included, since they point into the same message.
func (d *Decoder) appendName(dst []byte, off int) []byte {
	msg, t := d.msg, &d.texts
	end, _, _ := skipName(msg, off, len(msg))
	for i := range t.n {
		k := &t.known[i]
		if string(msg[k.wire:k.wireEnd]) == string(msg[off:end]) {
			return append(dst, t.buf[k.from:k.to]...)
		}
	}
	start := len(dst)
	dst = appendName(dst, msg, off)
	if len(t.buf)+len(dst)-start > maxNameTexts {
		t.reset()
	}
	from := len(t.buf)
	t.buf = append(t.buf, dst[start:]...)
	t.known[t.next] = nameText{wire: int32(off), wireEnd: int32(end), from: int32(from), to: int32(len(t.buf))}
	t.next = (t.next + 1) % len(t.known)
	if t.n < len(t.known) {
		t.n++
	}
	return dst
}

// Questions is the number of questions. When it is 0 the stored qname, qtype and
// qclass are empty strings.
func (d *Decoder) Questions() int { return d.nq }

// ID is the message id.
func (d *Decoder) ID() uint16 { return d.id }

// Flags is the second 16-bit word of the header as captured: QR, opcode, AA, TC, RD,
// RA, Z, AD, CD and the low four bits of the rcode.
func (d *Decoder) Flags() uint16 { return d.flags }

// Rcode is the response code with the OPT record's extension merged in, as
// miekg/dns's Msg.Rcode after Unpack. RcodeName gives its stored name.
func (d *Decoder) Rcode() int { return d.rcode }

// QType is the first question's type (0 without a question).
func (d *Decoder) QType() uint16 { return d.qtype }

// QClass is the first question's class (0 without a question).
func (d *Decoder) QClass() uint16 { return d.qclass }

// AppendQName appends the first question's name in its stored form; nothing without
// a question.
func (d *Decoder) AppendQName(dst []byte) []byte {
	if d.nq == 0 {
		return dst
	}
	if d.slow {
		return appendCanonical(dst, d.m.Question[0].Name)
	}
	return d.appendName(dst, d.qname)
}

// NumAnswer is the number of records in the answer section.
func (d *Decoder) NumAnswer() int { return d.nan }

// NumAuthority is the number of records in the authority section.
func (d *Decoder) NumAuthority() int { return d.nns }

// Answer is the i-th record of the answer section.
func (d *Decoder) Answer(i int) Record { return Record{d: d, i: i} }

// Authority is the i-th record of the authority section.
func (d *Decoder) Authority(i int) Record { return Record{d: d, i: d.nan + i} }

// Fallbacks tells how much of the message miekg/dns decoded: whole is true when the
// whole message went through Msg.Unpack, records counts the records of answer,
// authority and additional sections that went through UnpackRR otherwise.
func (d *Decoder) Fallbacks() (whole bool, records int) { return d.slow, len(d.fb) }

// Record is one resource record of the message last given to Reset; it is valid
// until the next Reset.
type Record struct {
	d *Decoder
	i int // index over answer then authority (then additional) records
}

func (r Record) slowRR() dns.RR {
	if r.i < r.d.nan {
		return r.d.m.Answer[r.i]
	}
	return r.d.m.Ns[r.i-r.d.nan]
}

// Type is the record's type; TypeName gives its stored name.
func (r Record) Type() uint16 {
	if r.d.slow {
		return r.slowRR().Header().Rrtype
	}
	return r.d.rrs[r.i].typ
}

// Class is the record's class; ClassName gives its stored name.
func (r Record) Class() uint16 {
	if r.d.slow {
		return r.slowRR().Header().Class
	}
	return r.d.rrs[r.i].class
}

// TTL is the record's TTL in seconds.
func (r Record) TTL() uint32 {
	if r.d.slow {
		return r.slowRR().Header().Ttl
	}
	return r.d.rrs[r.i].ttl
}

// AppendName appends the owner name in its stored form.
func (r Record) AppendName(dst []byte) []byte {
	if r.d.slow {
		return appendCanonical(dst, r.slowRR().Header().Name)
	}
	return r.d.appendName(dst, int(r.d.rrs[r.i].name))
}

// AppendRdata appends the record data in presentation format, the names in it
// lowered: the stored form of the data.
func (r Record) AppendRdata(dst []byte) []byte {
	d := r.d
	if d.slow {
		return append(dst, rdataText(r.slowRR())...)
	}
	x := &d.rrs[r.i]
	if x.fb >= 0 {
		return append(dst, rdataText(d.fb[x.fb])...)
	}
	msg, rd := d.msg, int(x.rd)
	switch x.typ {
	case dns.TypeA:
		for i, b := range msg[rd : rd+4] {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
		return dst
	case dns.TypeAAAA:
		// net.IP prints a v4-mapped address dotted and miekg/dns puts "::ffff:" in
		// front: the same text as netip's.
		return netip.AddrFrom16([16]byte(msg[rd : rd+16])).AppendTo(dst)
	case dns.TypeCNAME, dns.TypeNS, dns.TypePTR, dns.TypeDNAME:
		return d.appendName(dst, rd)
	case dns.TypeMX:
		dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint16(msg[rd:])), 10)
		dst = append(dst, ' ')
		return d.appendName(dst, rd+2)
	case dns.TypeSRV:
		for i := range 3 {
			dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint16(msg[rd+2*i:])), 10)
			dst = append(dst, ' ')
		}
		return d.appendName(dst, rd+6)
	case dns.TypeSOA:
		end := rd + int(x.rdlen)
		dst = d.appendName(dst, rd)
		next, _, _ := skipName(msg, rd, end)
		dst = append(dst, ' ')
		dst = d.appendName(dst, next)
		next, _, _ = skipName(msg, next, end)
		for i := range 5 {
			dst = append(dst, ' ')
			dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint32(msg[next+4*i:])), 10)
		}
		return dst
	case dns.TypeTXT:
		end := rd + int(x.rdlen)
		for off := rd; off < end; {
			l := int(msg[off])
			if off > rd {
				dst = append(dst, ' ')
			}
			dst = append(dst, '"')
			for _, b := range msg[off+1 : off+1+l] {
				switch txtClass[b] {
				case plain:
					dst = append(dst, b)
				case special:
					dst = append(dst, '\\', b)
				default:
					dst = appendDDD(dst, b)
				}
			}
			dst = append(dst, '"')
			off += 1 + l
		}
		return dst
	}
	return dst // not reached: other types are fallbacks
}

// Fallback reports whether this record's text comes from miekg/dns.
func (r Record) Fallback() bool {
	return r.d.slow || r.d.rrs[r.i].fb >= 0
}

// The rules below are the stored text of a record unpacked by miekg/dns; they are
// the definition the walk reproduces.

// appendCanonical appends a name as miekg/dns prints it, fully qualified, with
// ASCII letters lowered (bytes outside printable ASCII are \DDD escapes already).
func appendCanonical(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; 'A' <= c && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	if !dns.IsFqdn(string(dst[start:])) {
		dst = append(dst, '.')
	}
	return dst
}

func canonical(s string) string { return string(appendCanonical(nil, s)) }

// rdataText is the record data in presentation format with the names in it lowered.
func rdataText(rr dns.RR) string {
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
		return canonical(v.Target)
	case *dns.NS:
		return canonical(v.Ns)
	case *dns.PTR:
		return canonical(v.Ptr)
	case *dns.DNAME:
		c := *v
		c.Target = canonical(c.Target)
		rr = &c
	case *dns.MX:
		c := *v
		c.Mx = canonical(c.Mx)
		rr = &c
	case *dns.SRV:
		c := *v
		c.Target = canonical(c.Target)
		rr = &c
	case *dns.SOA:
		c := *v
		c.Ns, c.Mbox = canonical(c.Ns), canonical(c.Mbox)
		rr = &c
	case *dns.SVCB:
		c := *v
		c.Target = canonical(c.Target)
		rr = &c
	case *dns.HTTPS:
		c := *v
		c.Target = canonical(c.Target)
		rr = &c
	case *dns.KX:
		c := *v
		c.Exchanger = canonical(c.Exchanger)
		rr = &c
	case *dns.NAPTR:
		c := *v
		c.Replacement = canonical(c.Replacement)
		rr = &c
	}
	// "owner<TAB>ttl<TAB>class<TAB>type<TAB>data"; names escape tabs.
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
