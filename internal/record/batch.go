package record

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/nativeblock"
	"github.com/passivedns/passivedns/internal/wire"
)

// Batch holds decoded responses as blocks of the responses table in ClickHouse's Native
// format (internal/nativeblock): the writer decodes each capture straight into the column
// buffers of the last block, and the insert sends the blocks. No row holds a string or a
// pointer, so a full batch costs the garbage collector nothing to scan, and a reused batch
// allocates nothing.
type Batch struct {
	ID        uint64 // random; lets a retry find out whether an earlier attempt landed
	Uncertain bool   // an earlier insert attempt may have been written

	Caps []Capture // the captures of the rows, kept to spool the batch if ClickHouse fails

	// Undecoded is set on a batch bound for the spool: it keeps its captures without
	// decoding them (Keep), since only the captures are written there and the replay
	// decodes them anyway.
	Undecoded bool

	// Blocks hold the rows, BlockRows to a block but the last, in the schema flavor the
	// batch was made for (NewBatch; a zero Batch is portable). Encoding one block is a
	// short piece of work: an insert yields to DNS between blocks.
	Blocks []*nativeblock.Responses

	modern bool
	n      int                      // rows
	spare  []*nativeblock.Responses // emptied blocks, for reuse
	rows   *Rows                    // Rows' copy, until the batch changes
	slots  []uint32                 // ReleaseCaptures' scratch
}

// BlockRows is the rows of a block: about 0.1 ms to encode on one core.
const BlockRows = 1024

// NewBatch is an empty batch for a table of the modern schema flavor if modern is set, else
// the portable one. The writer learns the flavor from the server; a batch of the other
// flavor is converted when it is inserted.
func NewBatch(id uint64, modern bool) *Batch {
	return &Batch{ID: id, modern: modern}
}

// Len returns the number of rows.
func (b *Batch) Len() int { return b.n }

// Records returns the number of responses the batch holds: its rows, or its captures
// when it is undecoded.
func (b *Batch) Records() int {
	if b.Undecoded {
		return len(b.Caps)
	}
	return b.n
}

// Keep adds c to an undecoded batch as it is; the batch owns c's slot.
func (b *Batch) Keep(c *Capture) { b.Caps = append(b.Caps, *c) }

// Modern reports the flavor of the batch's blocks.
func (b *Batch) Modern() bool { return b.modern }

// Block returns the block of row i and the row's index in it.
func (b *Batch) Block(i int) (*nativeblock.Responses, int) {
	return b.Blocks[i/BlockRows], i % BlockRows
}

// tail is the block the next row goes into.
func (b *Batch) tail() *nativeblock.Responses {
	if k := len(b.Blocks); k > 0 && b.Blocks[k-1].Rows() < BlockRows {
		return b.Blocks[k-1]
	}
	var blk *nativeblock.Responses
	if k := len(b.spare); k > 0 {
		blk, b.spare = b.spare[k-1], b.spare[:k-1]
	} else {
		blk = nativeblock.New(b.modern)
	}
	b.Blocks = append(b.Blocks, blk)
	return blk
}

// Decoder is the writer's scratch space for turning captures into rows: the wire walk,
// and a miekg/dns message for the sizes the walk leaves to the library.
type Decoder struct {
	w   wire.Decoder
	msg dns.Msg
	buf []byte
}

// Add decodes one captured response into the batch's columns. Names and record data are
// written in place into the column buffers, byte for byte what miekg/dns prints
// (internal/wire, which falls back to the library for what its walk does not cover). A
// capture that cannot be decoded adds nothing.
func (b *Batch) Add(c *Capture, d *Decoder, sensor string) error {
	w := &d.w
	if err := w.Reset(c.Wire); err != nil {
		return err
	}
	size := c.Size
	if size == 0 {
		n, ok := w.Size(c.Compress)
		if !ok {
			var err error
			if n, err = d.packedSize(c); err != nil {
				return err
			}
		}
		size = uint32(n)
	}
	b.rows = nil
	blk := b.tail()
	b.n++
	b.Caps = append(b.Caps, *c)
	blk.Time.AppendUnixMilli(c.Time.UnixMilli())
	blk.Sensor.Append(sensor)
	blk.Server.Append(c.Server)
	blk.Transport.Append(c.Transport)
	blk.Client.Append(c.Client)
	if w.Questions() > 0 {
		blk.QName.Commit(w.AppendQName(blk.QName.Buf()))
		qt, qc := w.QType(), w.QClass()
		blk.QType.AppendCode(qt, wire.TypeName(qt))
		blk.QClass.AppendCode(qc, wire.ClassName(qc))
	} else {
		blk.QName.Commit(blk.QName.Buf())
		blk.QType.Append("")
		blk.QClass.Append("")
	}
	rc := w.Rcode() // 12 bits
	blk.RCode.AppendCode(uint16(rc), wire.RcodeName(rc))
	blk.Flags.Append(binary.BigEndian.Uint16(c.Wire[2:4]))
	addSection(blk.Answer, w.NumAnswer(), w.Answer)
	addSection(blk.Authority, w.NumAuthority(), w.Authority)
	blk.Size.Append(size)
	us := c.Elapsed.Microseconds()
	if us > int64(^uint32(0)) {
		us = int64(^uint32(0))
	}
	blk.DurationUs.Append(uint32(us))
	return nil
}

func addSection(s *nativeblock.Section, n int, rec func(int) wire.Record) {
	for i := range n {
		r := rec(i)
		s.Name.Commit(r.AppendName(s.Name.Buf()))
		t, c := r.Type(), r.Class()
		s.Type.AppendCode(t, wire.TypeName(t))
		s.Class.AppendCode(c, wire.ClassName(c))
		s.TTL.Append(r.TTL())
		s.Data.Commit(r.AppendRdata(s.Data.Buf()))
	}
	s.EndRow()
}

// packedSize packs the message again as the server did: the exact size sent when records
// went through miekg/dns (Msg.Len is an estimate that is off for escaped TXT data).
func (d *Decoder) packedSize(c *Capture) (int, error) {
	m := &d.msg
	*m = dns.Msg{}
	if err := m.Unpack(c.Wire); err != nil {
		return 0, err
	}
	m.Compress = c.Compress
	if d.buf == nil {
		d.buf = make([]byte, dns.MaxMsgSize)
	}
	wire, err := m.PackBuffer(d.buf)
	*m = dns.Msg{} // let the records go
	if err != nil {
		return 0, err
	}
	return len(wire), nil
}

// ReleaseCaptures hands the wire copies of the rows back to their pools: a writer that
// will never spool the batch needs only the decoded rows, and buffers returned at once
// are what the next captures reuse instead of allocating.
func (b *Batch) ReleaseCaptures() {
	ids := b.slots[:0]
	for i := range b.Caps {
		ids = append(ids, b.Caps[i].slot)
	}
	freeSlots(ids)
	b.slots = ids[:0]
	clear(b.Caps)
	b.Caps = b.Caps[:0]
}

// Reset empties the batch for reuse under a new id, keeping every buffer: only the batch's
// owner may call it, once nothing reads the old rows any more. The captures' pooled message
// buffers go back to their pool.
func (b *Batch) Reset(id uint64) {
	b.ReleaseCaptures()
	b.ID, b.Uncertain, b.Undecoded, b.rows, b.n = id, false, false, nil, 0
	for _, blk := range b.Blocks {
		blk.Reset()
		b.spare = append(b.spare, blk)
	}
	clear(b.Blocks)
	b.Blocks = b.Blocks[:0]
}

// AppendRow appends row i of src, a batch of either flavor (converted to b's).
func (b *Batch) AppendRow(src *Batch, i int) {
	blk, j := src.Block(i)
	b.rows = nil
	b.tail().AppendRow(blk, j)
	b.n++
}

// Subset returns the rows for which keep is true, as a new batch with the same id.
func (b *Batch) Subset(keep func(i int) bool) *Batch {
	n := &Batch{ID: b.ID, modern: b.modern}
	for i := range b.Len() {
		if !keep(i) {
			continue
		}
		if i < len(b.Caps) {
			n.Caps = append(n.Caps, b.Caps[i])
		}
		n.AppendRow(b, i)
	}
	return n
}

// TimeAt returns the time of row i, to the millisecond as stored.
func (b *Batch) TimeAt(i int) time.Time {
	blk, j := b.Block(i)
	return blk.TimeAt(j)
}

// QNameAt returns the qname of row i.
func (b *Batch) QNameAt(i int) string {
	blk, j := b.Block(i)
	return string(blk.QNameAt(j))
}

// Rows is a batch as Go values, column by column in the order of the responses table:
// what clickhouse-go's Append takes, and what tests read. It is a copy.
type Rows struct {
	Time       []time.Time
	TimeMs     []uint16
	Sensor     []string
	Server     []string
	Transport  []string
	Client     []netip.Addr // invalid when no client was stored
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

// Section is one message section as the columns of a Nested field.
type Section struct {
	Name  [][]string
	Type  [][]string
	Class [][]string
	TTL   [][]uint32
	Data  [][]string
}

// Rows returns the batch's rows as Go values, a copy: for the clickhouse-go insert path and
// for tests, not for the writer's own path. Each text column of a block is one string cut
// per row.
func (b *Batch) Rows() *Rows {
	if b.rows != nil {
		return b.rows
	}
	r := &Rows{}
	for _, blk := range b.Blocks {
		n := blk.Rows()
		for i := range n {
			t := blk.TimeAt(i)
			r.Time = append(r.Time, t)
			r.TimeMs = append(r.TimeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
			a := netip.AddrFrom16(blk.Client.At(i)).Unmap()
			if a == netip.IPv6Unspecified() {
				a = netip.Addr{}
			}
			r.Client = append(r.Client, a)
		}
		r.Sensor = append(r.Sensor, blk.Sensor.Strings()...)
		r.Server = append(r.Server, blk.Server.Strings()...)
		r.Transport = append(r.Transport, blk.Transport.Strings()...)
		r.QName = append(r.QName, blk.QName.Strings()...)
		r.QType = append(r.QType, blk.QType.Strings()...)
		r.QClass = append(r.QClass, blk.QClass.Strings()...)
		r.RCode = append(r.RCode, blk.RCode.Strings()...)
		r.Flags = append(r.Flags, *blk.Flags...)
		r.Answer.add(blk.Answer, n)
		r.Authority.add(blk.Authority, n)
		r.Size = append(r.Size, *blk.Size...)
		r.DurationUs = append(r.DurationUs, *blk.DurationUs...)
	}
	b.rows = r
	return r
}

// add appends the section's n rows of a block, cut from one slice per column.
func (s *Section) add(from *nativeblock.Section, n int) {
	name, typ, class, data := from.Name.Strings(), from.Type.Strings(), from.Class.Strings(), from.Data.Strings()
	ttl := append([]uint32(nil), *from.TTL...)
	for i := range n {
		lo, hi := from.Records(i)
		s.Name, s.Type, s.Class = append(s.Name, name[lo:hi:hi]), append(s.Type, typ[lo:hi:hi]), append(s.Class, class[lo:hi:hi])
		s.TTL, s.Data = append(s.TTL, ttl[lo:hi:hi]), append(s.Data, data[lo:hi:hi])
	}
}

// CanonicalName is the stored form of a domain name: presentation format as miekg/dns
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

// NewBatchID is a random batch id: it lets a retry find out whether an earlier attempt landed.
func NewBatchID() uint64 { return rand.Uint64() }

func Reverse(s string) string {
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[len(s)-1-i] = s[i]
	}
	return string(r)
}
