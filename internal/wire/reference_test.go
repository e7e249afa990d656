package wire

import (
	"encoding/binary"
	"strconv"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/wire/wiretest"
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
		r.qname, r.qtype, r.qclass = wiretest.CanonicalName(q.Name), wiretest.TypeString(q.Qtype), wiretest.ClassString(q.Qclass)
	}
	r.rcode = wiretest.RcodeString(m.Rcode)
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
		out = append(out, [5]string{wiretest.CanonicalName(h.Name), wiretest.TypeString(h.Rrtype), wiretest.ClassString(h.Class),
			strconv.FormatUint(uint64(h.Ttl), 10), wiretest.Rdata(rr)})
	}
	return out
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
