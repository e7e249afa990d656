package wire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// Size is the length of the message as miekg/dns packs what Msg.Unpack made of it,
// with name compression (compress) or without: the size of the answer as the server
// sent it when only the uncompressed copy was captured. It is computed from the walk
// without packing. ok is false when records went through miekg/dns (their packed
// form is the library's business): pack the unpacked message then.
func (d *Decoder) Size(compress bool) (size int, ok bool) {
	if d.slow || len(d.fb) > 0 {
		return 0, false
	}
	// Like Msg.PackBuffer: a lone question has nothing to compress against.
	if !compress || (d.nq <= 1 && len(d.rrs) == 0) {
		return d.plain, true
	}
	if n, ok := d.flatCompressed(); ok {
		return n, true
	}
	return d.compressed(), true
}

// compressed replays miekg/dns's packDomainName over the names of the message in
// packing order: every suffix of a name (but the root) is looked up among the ones
// already written; a hit becomes a pointer where the type allows compression, a miss
// is remembered if its offset fits a pointer. Suffixes compare as exact label
// sequences, as the library's map compares the presentation strings.
func (d *Decoder) compressed() int {
	c := &d.comp
	c.reset(d.msg)
	off := 12
	for _, q := range d.qnames {
		off = c.name(int(q), off, true) + 4
	}
	for i := range d.rrs {
		r := &d.rrs[i]
		off = c.name(int(r.name), off, true) + 10
		rd := int(r.rd)
		switch r.typ {
		case dns.TypeCNAME, dns.TypeNS, dns.TypePTR:
			off = c.name(rd, off, true)
		case dns.TypeDNAME:
			off = c.name(rd, off, false)
		case dns.TypeMX:
			off = c.name(rd+2, off+2, true)
		case dns.TypeSRV:
			off = c.name(rd+6, off+6, false)
		case dns.TypeSOA:
			mbox, _, _ := skipName(d.msg, rd, rd+int(r.rdlen))
			off = c.name(rd, off, true)
			off = c.name(mbox, off, true) + 20
		default: // A, AAAA, TXT, OPT: no names
			off += int(r.rdlen)
		}
	}
	return off
}

// maxCompressionOffset is miekg/dns's: only offsets below it are remembered.
const maxCompressionOffset = 2 << 13

// compressor is the set of name suffixes written so far: an open-addressing table
// of their hashes, emptied by moving to the next generation; a map past its load.
type compressor struct {
	msg     []byte
	gen     uint32
	slots   [tableSlots]slot
	hashes  []uint64
	srcs    []int32 // offset in msg of the suffix's first label
	lens    []int32 // the suffix's length when it lies in one piece (no pointer), or -1
	next    []int32 // next entry with the same hash when indexed, or -1
	index   map[uint64]int32
	indexed bool
	labels  []int32
	lh      []uint64
	seen    []seenName // whole names in the table, maxSeen at most
	flats   []flatName // for flatCompressed
}

// seenName is a name without pointers at src in msg, n octets with its root.
type seenName struct{ src, n int32 }

// maxSeen bounds the names compared whole: answers repeat a few, and a long list would
// cost more than the lookups it saves.
const maxSeen = 8

func (c *compressor) remember(src int, n int32) {
	if len(c.seen) < maxSeen {
		c.seen = append(c.seen, seenName{src: int32(src), n: n})
	}
}

type slot struct {
	h   uint64
	src int32
	n   int32 // as lens
	gen uint32
}

const (
	tableSlots = 1024
	tableMax   = tableSlots / 2 // entries before the map takes over
)

func (c *compressor) reset(msg []byte) {
	c.msg = msg
	c.hashes, c.srcs, c.lens, c.next = c.hashes[:0], c.srcs[:0], c.lens[:0], c.next[:0]
	c.seen = c.seen[:0]
	if c.indexed {
		clear(c.index)
		c.indexed = false
	}
	if c.gen++; c.gen == 0 {
		c.slots = [tableSlots]slot{}
		c.gen = 1
	}
}

// name accounts for the name at src (a checked name in msg) packed at off and
// returns the offset after it.
func (c *compressor) name(src, off int, compress bool) int {
	msg := c.msg
	labels := c.labels[:0]
	// labels[flat:] lie in one piece ending with the root at end: most names (all of
	// them in an uncompressed capture) compare as one run of bytes.
	flat, end, whole := 0, src, true
	for p, hops := src, 0; hops <= maxPointers; {
		l := int(msg[p])
		if l == 0 {
			end = p
			break
		}
		if l&0xC0 == 0xC0 {
			p = (l&0x3F)<<8 | int(msg[p+1])
			hops++
			flat, whole = len(labels), false
			continue
		}
		labels = append(labels, int32(p))
		p += 1 + l
	}
	c.labels = labels
	if len(labels) == 0 {
		return off + 1 // the root is never compressed
	}
	// Most names of an answer were written before, whole (the owner of every record of an
	// RRset, the question's name as the first owner): comparing the name with those costs
	// less than hashing and looking up each suffix. A name in seen is in the table, so
	// the lookup would find it at its first label and point there. Only where the type
	// allows a pointer: SRV and DNAME targets are few.
	size := int32(end + 1 - src)
	if whole && compress {
		for _, w := range c.seen {
			if c.same(int(w.src), w.n, labels, size) {
				return off + 2
			}
		}
	}
	// Hash every suffix, from the right.
	lh := c.lh[:0]
	for range labels {
		lh = append(lh, 0)
	}
	h := uint64(0x9E3779B97F4A7C15)
	for i := len(labels) - 1; i >= 0; i-- {
		p := int(labels[i])
		h = hashLabel(h, msg, p)
		lh[i] = h
	}
	c.lh = lh
	for i, p := range labels {
		n := int32(-1)
		if i >= flat {
			n = int32(end + 1 - int(p))
		}
		found := c.find(lh[i], labels[i:], n)
		inTable := found || off < maxCompressionOffset
		if !found && inTable {
			c.insert(lh[i], p, n)
		}
		if i == 0 && whole && inTable {
			c.remember(src, size)
		}
		if found && compress {
			return off + 2
		}
		off += 1 + int(msg[p])
	}
	return off + 1
}

// hashLabel mixes a label, its length byte included (so boundaries are part of the
// hash), into h eight bytes at a time. Hits are confirmed byte for byte by same.
func hashLabel(h uint64, msg []byte, p int) uint64 {
	const m = 0xFF51AFD7ED558CCD
	lab := msg[p : p+1+int(msg[p])]
	for len(lab) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(lab)) * m
		h ^= h >> 32
		lab = lab[8:]
	}
	var t uint64
	if rest := len(msg) - (p + 1 + int(msg[p]) - len(lab)); len(lab) > 0 && rest >= 8 {
		// One load past the label, masked, instead of a byte loop.
		q := p + 1 + int(msg[p]) - len(lab)
		t = binary.LittleEndian.Uint64(msg[q:]) & (1<<(8*len(lab)) - 1)
	} else {
		for i, b := range lab {
			t |= uint64(b) << (8 * i)
		}
	}
	h = (h ^ t ^ uint64(len(lab))<<59) * m
	return h ^ h>>29
}

func (c *compressor) find(h uint64, labels []int32, n int32) bool {
	if !c.indexed {
		for j := h % tableSlots; c.slots[j].gen == c.gen; j = (j + 1) % tableSlots {
			if s := &c.slots[j]; s.h == h && c.same(int(s.src), s.n, labels, n) {
				return true
			}
		}
		return false
	}
	i, ok := c.index[h]
	for ok && i >= 0 {
		if c.same(int(c.srcs[i]), c.lens[i], labels, n) {
			return true
		}
		i = c.next[i]
	}
	return false
}

func (c *compressor) insert(h uint64, src, n int32) {
	c.hashes = append(c.hashes, h)
	c.srcs = append(c.srcs, src)
	c.lens = append(c.lens, n)
	c.next = append(c.next, -1)
	switch {
	case c.indexed:
		c.link(len(c.hashes) - 1)
	case len(c.hashes) > tableMax:
		if c.index == nil {
			c.index = make(map[uint64]int32)
		}
		c.indexed = true
		for i := range c.hashes {
			c.link(i)
		}
	default:
		j := h % tableSlots
		for c.slots[j].gen == c.gen {
			j = (j + 1) % tableSlots
		}
		c.slots[j] = slot{h: h, src: src, n: n, gen: c.gen}
	}
}

func (c *compressor) link(i int) {
	if head, ok := c.index[c.hashes[i]]; ok {
		c.next[i] = head
	}
	c.index[c.hashes[i]] = int32(i)
}

// same reports whether the suffix starting at the label at src spells the labels;
// srcLen and n are their lengths when in one piece.
func (c *compressor) same(src int, srcLen int32, labels []int32, n int32) bool {
	msg := c.msg
	if srcLen >= 0 && n >= 0 {
		q := int(labels[0])
		return srcLen == n && string(msg[src:src+int(n)]) == string(msg[q:q+int(n)])
	}
	p := src
	for _, lq := range labels {
		q := int(lq)
		for hops := 0; msg[p]&0xC0 == 0xC0 && hops <= maxPointers; hops++ {
			p = int(binary.BigEndian.Uint16(msg[p:]) & 0x3FFF)
		}
		l := int(msg[p])
		if l == 0 || l != int(msg[q]) || string(msg[p+1:p+1+l]) != string(msg[q+1:q+1+l]) {
			return false
		}
		p += 1 + l
	}
	for hops := 0; msg[p]&0xC0 == 0xC0 && hops <= maxPointers; hops++ {
		p = int(binary.BigEndian.Uint16(msg[p:]) & 0x3FFF)
	}
	return msg[p] == 0
}

// PackedSize is Size with miekg/dns's packing where Size cannot answer: what the
// writer stores as the size, and an error where packing fails.
func (d *Decoder) PackedSize(compress bool) (int, error) {
	if n, ok := d.Size(compress); ok {
		return n, nil
	}
	if !d.slow {
		d.m = dns.Msg{}
		if err := d.m.Unpack(d.msg); err != nil {
			return 0, err // not reached: Reset succeeded
		}
	}
	if d.packBuf == nil {
		d.packBuf = make([]byte, dns.MaxMsgSize)
	}
	d.m.Compress = compress
	wire, err := d.m.PackBuffer(d.packBuf)
	if err != nil {
		return 0, err
	}
	return len(wire), nil
}
