package wire

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// AppendMsg appends m in wire format without name compression, byte for byte as
// miekg/dns's PackBuffer packs it with m.Compress false, and reports true. The library
// spends most of that pack on escapes in names; answers nearly never have any, so this
// copies names label by label instead.
//
// It reports false, with buf returned at its original length, for anything outside the
// common case, and the caller then packs with miekg/dns: an Rcode miekg/dns would reject,
// or one whose extended bits it would write into the OPT record first (it changes the
// caller's record; this never does); a name that is empty, not fully qualified, escaped
// (any backslash), with an empty or over-long label or longer than 255 octets; record
// types other than A, AAAA, CNAME, NS, PTR, DNAME, MX, SRV, SOA, TXT and OPT; empty
// rdata (nil addresses, no TXT strings), an A address neither 4 octets nor v4-mapped,
// a TXT string escaped or over 255 octets, OPT with options; a nil record.
//
// It does not allocate when buf has room for the message; otherwise append grows it.
func AppendMsg(buf []byte, m *dns.Msg) ([]byte, bool) {
	if m.Rcode < 0 || m.Rcode > 0xFFF || !ednsSettled(m) {
		return buf, false
	}
	start := len(buf)
	bits := uint16(m.Opcode)<<11 | uint16(m.Rcode&0xF)
	bits |= flag(m.Response, 1<<15) | flag(m.Authoritative, 1<<10) | flag(m.Truncated, 1<<9) |
		flag(m.RecursionDesired, 1<<8) | flag(m.RecursionAvailable, 1<<7) | flag(m.Zero, 1<<6) |
		flag(m.AuthenticatedData, 1<<5) | flag(m.CheckingDisabled, 1<<4)
	buf = binary.BigEndian.AppendUint16(buf, m.Id)
	buf = binary.BigEndian.AppendUint16(buf, bits)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(m.Question)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(m.Answer)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(m.Ns)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(m.Extra)))
	ok := true
	var last lastName
	for i := range m.Question {
		q := &m.Question[i]
		if buf, ok = last.pack(buf, q.Name); !ok {
			return buf[:start], false
		}
		buf = binary.BigEndian.AppendUint16(buf, q.Qtype)
		buf = binary.BigEndian.AppendUint16(buf, q.Qclass)
	}
	for _, section := range [...][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if buf, ok = appendRR(buf, rr, &last); !ok {
				return buf[:start], false
			}
		}
	}
	return buf, true
}

func flag(set bool, bit uint16) uint16 {
	if set {
		return bit
	}
	return 0
}

// ednsSettled says whether miekg/dns would leave the OPT record as it is: before
// packing, it sets the extended rcode bits of the last OPT in the additional section
// to Rcode's upper bits (and fails for an extended Rcode without one).
func ednsSettled(m *dns.Msg) bool {
	for i := len(m.Extra) - 1; i >= 0; i-- {
		h := packedHeader(m.Extra[i])
		if h == nil {
			return false // not ours to pack anyway; and the library may panic on it
		}
		if h.Rrtype != dns.TypeOPT {
			continue
		}
		opt, ok := m.Extra[i].(*dns.OPT)
		return ok && opt.Hdr.Ttl>>24 == uint32(uint16(m.Rcode)>>4)
	}
	return m.Rcode <= 0xF
}

// packedHeader is rr's header when rr is of a type AppendMsg packs, else nil.
func packedHeader(rr dns.RR) *dns.RR_Header {
	switch r := rr.(type) {
	case *dns.A:
		if r != nil {
			return &r.Hdr
		}
	case *dns.AAAA:
		if r != nil {
			return &r.Hdr
		}
	case *dns.CNAME:
		if r != nil {
			return &r.Hdr
		}
	case *dns.NS:
		if r != nil {
			return &r.Hdr
		}
	case *dns.PTR:
		if r != nil {
			return &r.Hdr
		}
	case *dns.DNAME:
		if r != nil {
			return &r.Hdr
		}
	case *dns.MX:
		if r != nil {
			return &r.Hdr
		}
	case *dns.SRV:
		if r != nil {
			return &r.Hdr
		}
	case *dns.SOA:
		if r != nil {
			return &r.Hdr
		}
	case *dns.TXT:
		if r != nil {
			return &r.Hdr
		}
	case *dns.OPT:
		if r != nil {
			return &r.Hdr
		}
	}
	return nil
}

// appendRR appends rr's header and data, with the data's real length: like
// miekg/dns, the struct's Rdlength is ignored, and the header's type is written as
// given while the data follows the Go type.
func appendRR(buf []byte, rr dns.RR, last *lastName) ([]byte, bool) {
	h := packedHeader(rr)
	if h == nil {
		return buf, false
	}
	ok := true
	if buf, ok = last.pack(buf, h.Name); !ok {
		return buf, false
	}
	buf = binary.BigEndian.AppendUint16(buf, h.Rrtype)
	buf = binary.BigEndian.AppendUint16(buf, h.Class)
	buf = binary.BigEndian.AppendUint32(buf, h.Ttl)
	buf = append(buf, 0, 0)
	rdata := len(buf)
	switch r := rr.(type) {
	case *dns.A:
		switch ip := r.A; len(ip) {
		case 4:
			buf = append(buf, ip...)
		case 16: // the library writes To4 and so needs a v4-mapped address
			if [12]byte(ip[:12]) != [12]byte{10: 0xff, 11: 0xff} {
				return buf, false
			}
			buf = append(buf, ip[12:]...)
		default:
			return buf, false
		}
	case *dns.AAAA:
		if len(r.AAAA) != 16 {
			return buf, false
		}
		buf = append(buf, r.AAAA...)
	case *dns.CNAME:
		buf, ok = last.pack(buf, r.Target)
	case *dns.NS:
		buf, ok = last.pack(buf, r.Ns)
	case *dns.PTR:
		buf, ok = last.pack(buf, r.Ptr)
	case *dns.DNAME:
		buf, ok = last.pack(buf, r.Target)
	case *dns.MX:
		buf = binary.BigEndian.AppendUint16(buf, r.Preference)
		buf, ok = last.pack(buf, r.Mx)
	case *dns.SRV:
		buf = binary.BigEndian.AppendUint16(buf, r.Priority)
		buf = binary.BigEndian.AppendUint16(buf, r.Weight)
		buf = binary.BigEndian.AppendUint16(buf, r.Port)
		buf, ok = last.pack(buf, r.Target)
	case *dns.SOA:
		if buf, ok = last.pack(buf, r.Ns); ok {
			buf, ok = last.pack(buf, r.Mbox)
		}
		for _, v := range [...]uint32{r.Serial, r.Refresh, r.Retry, r.Expire, r.Minttl} {
			buf = binary.BigEndian.AppendUint32(buf, v)
		}
	case *dns.TXT:
		// The library writes a zero but counts no data for no strings.
		ok = len(r.Txt) > 0
		for _, s := range r.Txt {
			if len(s) > 255 || strings.IndexByte(s, '\\') >= 0 {
				return buf, false
			}
			buf = append(buf, byte(len(s)))
			buf = append(buf, s...)
		}
	case *dns.OPT:
		ok = len(r.Option) == 0
	}
	n := len(buf) - rdata
	if !ok || n > 0xFFFF {
		return buf, false
	}
	binary.BigEndian.PutUint16(buf[rdata-2:], uint16(n))
	return buf, true
}

// lastName is the name packed last and where its labels lie in the buffer. In an answer
// the same name comes again and again (an RRset's owners, a CNAME's target as the next
// owner), and copying those octets is cheaper than finding the labels again.
type lastName struct {
	text     string
	from, to int // to is 0 until a name is packed
}

// pack appends s as packName does.
func (l *lastName) pack(buf []byte, s string) ([]byte, bool) {
	if l.to > 0 && s == l.text {
		return append(buf, buf[l.from:l.to]...), true
	}
	from := len(buf)
	buf, ok := packName(buf, s)
	if ok {
		l.text, l.from, l.to = s, from, len(buf)
	}
	return buf, ok
}

// packName appends s, a name in presentation format, as uncompressed labels, when it
// is fully qualified, has no escapes, and its labels and length are legal.
func packName(buf []byte, s string) ([]byte, bool) {
	n := len(s)
	if n == 0 || n > 254 || s[n-1] != '.' {
		return buf, false
	}
	if n == 1 {
		return append(buf, 0), true
	}
	// Without escapes the wire form is the text one octet on, each label's length in
	// the place of the dot before it and the last dot's place the root's zero. One pass
	// over the copy sets them; short labels make that cheaper than searching for dots.
	off := len(buf)
	buf = append(buf, 0)
	buf = append(buf, s...)
	at, begin := off, 0
	for i := 0; i < n; i++ {
		switch s[i] {
		case '.':
			l := i - begin
			if l == 0 || l > 63 {
				return buf[:off], false
			}
			buf[at] = byte(l)
			at, begin = off+1+i, i+1
		case '\\':
			return buf[:off], false
		}
	}
	buf[at] = 0
	return buf, true
}
