// Package wire turns a DNS message in wire format into the text passivedns stores,
// appended to the caller's buffers: the owner and target names, the type, class and
// rcode names and the record data, byte for byte as miekg/dns would print them after
// Msg.Unpack (escapes kept, ASCII lowered in names). The common record types are
// read straight from the wire without allocating; anything else, and anything odd,
// goes through miekg/dns, so the text never differs from the library's.
//
// Walked: A, AAAA, CNAME, NS, PTR, DNAME, MX, SRV, SOA and TXT with complete rdata,
// and OPT in the additional section with no options or only NSID, cookie, padding
// and extended errors. Through miekg/dns's UnpackRR (per record): every other type,
// empty rdata, rdata cut short (which the library accepts), OPT elsewhere or with
// other options. Through Msg.Unpack (whole message): a message of 12 bytes or less,
// counts larger than the message, and anything malformed, so the error is the
// library's. The size as packed is computed when every record was walked.
//
// The other way, AppendMsg packs a *dns.Msg uncompressed for the recorder's copy, byte
// for byte as the library does, and says when the library must do it instead.
package wire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// Decoder walks one message at a time. Its scratch space is reused by Reset, so a
// long-lived Decoder allocates nothing for the common record types. It is not safe
// for concurrent use.
type Decoder struct {
	msg []byte

	id, flags     uint16
	rcode         int
	nq            int
	qname         int // offset of the first question's name
	qtype, qclass uint16
	qnames        []int32 // offsets of every question name, for the compressed size

	rrs           []rec // answer, authority and additional records in order
	nan, nns, nar int
	plain         int // the message's length packed without compression

	// slow is set when the whole message went through miekg/dns (Msg.Unpack), because
	// the walk found something it does not mirror exactly.
	slow bool
	m    dns.Msg
	fb   []dns.RR // records of types the walk does not decode, unpacked by miekg/dns

	packBuf []byte // for PackedSize's fallback

	comp  compressor
	texts nameTexts
}

// rec is one resource record as offsets into the message.
type rec struct {
	name       int32 // offset of the owner name
	rd         int32 // offset of the rdata
	rdlen      uint16
	typ, class uint16
	ttl        uint32
	fb         int32 // index into Decoder.fb, or -1 when the walk decodes the rdata
}

// Reset makes d describe msg. It fails exactly when miekg/dns's Msg.Unpack fails. The
// Decoder keeps msg (not a copy) until the next Reset.
func (d *Decoder) Reset(msg []byte) error {
	d.msg = msg
	d.rrs = d.rrs[:0]
	d.qnames = d.qnames[:0]
	clear(d.fb) // let the old records go
	d.fb = d.fb[:0]
	d.slow = false
	d.texts.reset()
	if d.walk() {
		return nil
	}
	return d.unpack()
}

// unpack is the fallback for a whole message: miekg/dns decides what it means.
func (d *Decoder) unpack() error {
	d.slow = true
	d.rrs = d.rrs[:0]
	clear(d.fb)
	d.fb = d.fb[:0]
	d.m = dns.Msg{}
	if err := d.m.Unpack(d.msg); err != nil {
		d.m = dns.Msg{}
		d.msg = nil
		return err
	}
	d.id = d.m.Id
	d.flags = binary.BigEndian.Uint16(d.msg[2:4])
	d.rcode = d.m.Rcode
	d.nq = len(d.m.Question)
	d.nan, d.nns, d.nar = len(d.m.Answer), len(d.m.Ns), len(d.m.Extra)
	if d.nq > 0 {
		d.qtype, d.qclass = d.m.Question[0].Qtype, d.m.Question[0].Qclass
	}
	return nil
}

// walk reads a well-formed message with every counted entry present. It returns
// false on anything else (short message, lying counts, bad names, records miekg/dns
// refuses) so that Msg.Unpack gets the final word on those.
func (d *Decoder) walk() bool {
	msg := d.msg
	if len(msg) <= 12 {
		return false // miekg/dns keeps only the header then, whatever the counts say
	}
	d.id = binary.BigEndian.Uint16(msg[0:])
	d.flags = binary.BigEndian.Uint16(msg[2:])
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	d.nan = int(binary.BigEndian.Uint16(msg[6:]))
	d.nns = int(binary.BigEndian.Uint16(msg[8:]))
	d.nar = int(binary.BigEndian.Uint16(msg[10:]))
	off, plain := 12, 12
	for i := 0; i < qd; i++ {
		next, n, ok := skipName(msg, off, len(msg))
		if !ok || next+4 > len(msg) {
			return false
		}
		if i == 0 {
			d.qname = off
			d.qtype = binary.BigEndian.Uint16(msg[next:])
			d.qclass = binary.BigEndian.Uint16(msg[next+2:])
		}
		d.qnames = append(d.qnames, int32(off))
		off = next + 4
		plain += n + 4
	}
	d.nq = qd
	total := d.nan + d.nns + d.nar
	for i := 0; i < total; i++ {
		if off >= len(msg) {
			return false
		}
		next, n, ok := skipName(msg, off, len(msg))
		if !ok || next+10 > len(msg) {
			return false
		}
		r := rec{
			name:  int32(off),
			typ:   binary.BigEndian.Uint16(msg[next:]),
			class: binary.BigEndian.Uint16(msg[next+2:]),
			ttl:   binary.BigEndian.Uint32(msg[next+4:]),
			rdlen: binary.BigEndian.Uint16(msg[next+8:]),
			rd:    int32(next + 10),
			fb:    -1,
		}
		end := next + 10 + int(r.rdlen)
		if end > len(msg) {
			return false
		}
		rdPlain, ok := rdataLen(r.typ, msg[:end], next+10, i >= d.nan+d.nns)
		if ok {
			plain += n + 10 + rdPlain
		} else {
			// A type the walk does not decode, or an rdata it does not mirror:
			// miekg/dns unpacks this record, as Msg.Unpack would.
			x, off1, err := dns.UnpackRR(msg, off)
			if err != nil || off1 != end {
				return false
			}
			r.fb = int32(len(d.fb))
			d.fb = append(d.fb, x)
		}
		d.rrs = append(d.rrs, r)
		off = end
	}
	d.plain = plain
	d.rcode = int(d.flags & 0xF)
	// Like Msg.Unpack: the last OPT record in the additional section extends the rcode.
	for i := len(d.rrs) - 1; i >= d.nan+d.nns; i-- {
		if d.rrs[i].typ == dns.TypeOPT {
			d.rcode |= int(d.rrs[i].ttl>>24) << 4
			break
		}
	}
	return true
}

// rdataLen checks that the rdata at msg[rd:] (msg ends with the rdata) is one the
// walk prints exactly as miekg/dns would, and returns its length when packed without
// compression.
func rdataLen(typ uint16, msg []byte, rd int, additional bool) (int, bool) {
	end := len(msg)
	n := end - rd
	if n == 0 && typ != dns.TypeOPT {
		return 0, false // miekg/dns makes an empty record of the type
	}
	switch typ {
	case dns.TypeA:
		return 4, n == 4
	case dns.TypeAAAA:
		return 16, n == 16
	case dns.TypeCNAME, dns.TypeNS, dns.TypePTR, dns.TypeDNAME:
		next, l, ok := skipName(msg, rd, end)
		return l, ok && next == end
	case dns.TypeMX:
		next, l, ok := skipName(msg, rd+2, end)
		return 2 + l, n > 2 && ok && next == end
	case dns.TypeSRV:
		next, l, ok := skipName(msg, rd+6, end)
		return 6 + l, n > 6 && ok && next == end
	case dns.TypeSOA:
		next, l1, ok := skipName(msg, rd, end)
		if !ok {
			return 0, false
		}
		next, l2, ok := skipName(msg, next, end)
		return l1 + l2 + 20, ok && next+20 == end
	case dns.TypeTXT:
		for off := rd; off < end; {
			off += 1 + int(msg[off])
			if off > end {
				return 0, false
			}
		}
		return n, true
	case dns.TypeOPT:
		if !additional {
			return 0, false // printed by miekg/dns, whatever it makes of it
		}
		for off := rd; off < end; {
			if off+4 > end {
				return 0, false
			}
			code := binary.BigEndian.Uint16(msg[off:])
			l := int(binary.BigEndian.Uint16(msg[off+2:]))
			off += 4 + l
			if off > end {
				return 0, false
			}
			// Options that unpack and pack again to the same bytes; the rest
			// (client subnet, keepalive, ...) may fail or change size in miekg/dns.
			switch code {
			case dns.EDNS0NSID, dns.EDNS0COOKIE, dns.EDNS0PADDING:
			case dns.EDNS0EDE:
				if l < 2 {
					return 0, false
				}
			default:
				return 0, false
			}
		}
		return n, true
	}
	return 0, false
}

// skipName mirrors miekg/dns's UnpackDomainName over msg[:lim]: it returns the offset
// after the name, the name's length uncompressed, and false wherever miekg/dns fails.
func skipName(msg []byte, off, lim int) (next, n int, ok bool) {
	budget := maxNameOctets
	ptr := 0
	for {
		if off >= lim {
			return 0, 0, false
		}
		c := int(msg[off])
		off++
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if ptr == 0 {
					next = off
				}
				return next, maxNameOctets - budget + 1, true
			}
			if off+c > lim {
				return 0, 0, false
			}
			budget -= c + 1
			if budget <= 0 {
				return 0, 0, false
			}
			off += c
		case 0xC0:
			if off >= lim {
				return 0, 0, false
			}
			c1 := int(msg[off])
			off++
			if ptr == 0 {
				next = off
			}
			if ptr++; ptr > maxPointers {
				return 0, 0, false
			}
			off = (c^0xC0)<<8 | c1
		default:
			return 0, 0, false
		}
	}
}

const (
	maxNameOctets = 255                     // miekg/dns's maxDomainNameWireOctets
	maxPointers   = (maxNameOctets+1)/2 - 2 // miekg/dns's maxCompressionPointers
)
