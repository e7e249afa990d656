package wire

import (
	"encoding/binary"
	"math/bits"

	"github.com/miekg/dns"
)

// The recorder captures answers packed without compression, so every name lies in one
// piece, and an answer has a handful of distinct names. For those the compressed size
// needs no table: the set miekg/dns's map holds when a name is packed is every
// label-aligned suffix of the names packed before it (each suffix is looked up and,
// missing, added, below the pointer limit), so the suffix a name is compressed to is its
// longest one that ends some earlier name at one of that name's label starts. Comparing
// each name from its end with the few distinct earlier ones finds it without hashing.

// maxFlatNames bounds the distinct names compared that way: the comparisons grow with
// their square, and past this many the table is cheaper.
const maxFlatNames = 16

// flatName is a name packed whole at src in msg, n octets with its root; starts has bit i
// set where a label starts at src+i.
type flatName struct {
	src, n int32
	starts [4]uint64
}

// maxFlatRecords is the most questions and records a message may have for its size to be
// found that way: the table is cheaper for more (measured by BenchmarkCompressedSize).
const maxFlatRecords = 12

// flatCompressed is compressed for messages below the pointer limit whose names all lie
// in one piece, with maxFlatRecords at most; ok is false otherwise (or past maxFlatNames),
// and compressed must answer.
func (d *Decoder) flatCompressed() (size int, ok bool) {
	if d.plain >= maxCompressionOffset || len(d.qnames)+len(d.rrs) > maxFlatRecords {
		return 0, false // some suffixes would not be remembered; many names
	}
	return d.flatSize()
}

// flatSize is flatCompressed without the bound on records. Its walk is compressed's, name
// by name in packing order; one walk calling either through a function value cost the
// size 10-15% (BenchmarkCompressedSize), and the tests hold both to miekg/dns's sizes.
func (d *Decoder) flatSize() (size int, ok bool) {
	c := &d.comp
	c.msg, c.flats = d.msg, c.flats[:0]
	off := 12
	for _, q := range d.qnames {
		n, ok := c.flatName(int(q), true)
		if !ok {
			return 0, false
		}
		off += n + 4
	}
	for i := range d.rrs {
		r := &d.rrs[i]
		n, ok := c.flatName(int(r.name), true)
		if !ok {
			return 0, false
		}
		off += n + 10
		rd, target, compress := int(r.rd), -1, true
		switch r.typ {
		case dns.TypeCNAME, dns.TypeNS, dns.TypePTR:
			target = rd
		case dns.TypeDNAME:
			target, compress = rd, false
		case dns.TypeMX:
			target, off = rd+2, off+2
		case dns.TypeSRV:
			target, compress, off = rd+6, false, off+6
		case dns.TypeSOA:
			mbox, _, _ := skipName(d.msg, rd, rd+int(r.rdlen))
			if n, ok = c.flatName(rd, true); !ok {
				return 0, false
			}
			target, off = mbox, off+n+20
		default: // A, AAAA, TXT, OPT: no names
			off += int(r.rdlen)
		}
		if target >= 0 {
			if n, ok = c.flatName(target, compress); !ok {
				return 0, false
			}
			off += n
		}
	}
	return off, true
}

// flatName is the size the name at src takes when packed after the names before it, and
// remembers it; ok is false for a name with a pointer, or one distinct name too many.
func (c *compressor) flatName(src int, compress bool) (size int, ok bool) {
	msg := c.msg
	// A name written before (an RRset's owner, mostly the newest) is found whole without
	// walking it: octets that equal a name's, root included, spell the same labels.
	for i := len(c.flats) - 1; i >= 0; i-- {
		f := &c.flats[i]
		if end := src + int(f.n); end <= len(msg) && string(msg[src:end]) == string(msg[f.src:f.src+f.n]) {
			if compress {
				return 2, true
			}
			return int(f.n), true
		}
	}
	labels := c.labels[:0]
	p := src
	for l := int(msg[p]); l != 0; l = int(msg[p]) {
		if l&0xC0 != 0 {
			return 0, false
		}
		labels = append(labels, int32(p))
		p += 1 + l
	}
	c.labels = labels
	n := p + 1 - src
	if len(labels) == 0 {
		return 1, true // the root is never compressed
	}
	name := msg[src : src+n]
	found := 0 // the longest suffix already remembered, in octets
	// The newest first: a name that comes again (an RRset's owner) is most often the
	// last one written.
	for i := len(c.flats) - 1; i >= 0; i-- {
		f := &c.flats[i]
		common := commonSuffix(msg[f.src:f.src+f.n], name)
		for _, lp := range labels {
			l := src + n - int(lp)
			if l <= found {
				break
			}
			if at := int(f.n) - l; l <= common && f.starts[at>>6]&(1<<(at&63)) != 0 {
				found = l
				break
			}
		}
		if found == n {
			break
		}
	}
	if found < n { // some of its suffixes are new
		if len(c.flats) == maxFlatNames {
			return 0, false
		}
		f := flatName{src: int32(src), n: int32(n)}
		for _, lp := range labels {
			at := int(lp) - src
			f.starts[at>>6] |= 1 << (at & 63)
		}
		c.flats = append(c.flats, f)
	}
	if compress && found > 0 {
		return n - found + 2, true
	}
	return n, true
}

// commonSuffix is how many octets a and b end with alike.
func commonSuffix(a, b []byte) int {
	i, j := len(a), len(b)
	for i >= 8 && j >= 8 {
		if x := binary.LittleEndian.Uint64(a[i-8:]) ^ binary.LittleEndian.Uint64(b[j-8:]); x != 0 {
			return len(a) - i + bits.LeadingZeros64(x)/8
		}
		i, j = i-8, j-8
	}
	for i > 0 && j > 0 && a[i-1] == b[j-1] {
		i, j = i-1, j-1
	}
	return len(a) - i
}
