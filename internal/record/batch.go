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

// Batch holds decoded responses as a block of the responses table in ClickHouse's Native
// format (internal/nativeblock): the writer decodes each capture straight into the block's
// column buffers, and the insert sends that block. No row holds a string or a pointer, so
// a full batch costs the garbage collector nothing to scan, and a reused batch allocates
// nothing.
type Batch struct {
	ID        uint64 // random; lets a retry find out whether an earlier attempt landed
	Uncertain bool   // an earlier insert attempt may have been written

	Caps []Capture // the captures of the rows, kept to spool the batch if ClickHouse fails

	// Block holds the rows, in the schema flavor the batch was made for (NewBatch); nil
	// until the first Add, which then makes a portable one.
	Block *nativeblock.Responses

	rows  *Rows    // Rows' copy, until the batch changes
	slots []uint32 // ReleaseCaptures' scratch
}

// NewBatch is an empty batch for a table of the modern schema flavor if modern is set, else
// the portable one. The writer learns the flavor from the server; a batch of the other
// flavor is converted when it is inserted.
func NewBatch(id uint64, modern bool) *Batch {
	return &Batch{ID: id, Block: nativeblock.New(modern)}
}

// Len returns the number of rows.
func (b *Batch) Len() int {
	if b.Block == nil {
		return 0
	}
	return b.Block.Rows()
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
	if b.Block == nil {
		b.Block = nativeblock.New(false)
	}
	b.rows = nil
	blk := b.Block
	b.Caps = append(b.Caps, *c)
	blk.Time.AppendUnixMilli(c.Time.UnixMilli())
	blk.Sensor.Append(sensor)
	blk.Server.Append(c.Server)
	blk.Transport.Append(c.Transport)
	blk.Client.Append(c.Client)
	qtype, qclass := "", ""
	if w.Questions() > 0 {
		blk.QName.Commit(w.AppendQName(blk.QName.Buf()))
		qtype, qclass = wire.TypeName(w.QType()), wire.ClassName(w.QClass())
	} else {
		blk.QName.Commit(blk.QName.Buf())
	}
	blk.QType.Append(qtype)
	blk.QClass.Append(qclass)
	blk.RCode.Append(wire.RcodeName(w.Rcode()))
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
		s.Type.Append(wire.TypeName(r.Type()))
		s.Class.Append(wire.ClassName(r.Class()))
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
	b.ID, b.Uncertain, b.rows = id, false, nil
	if b.Block != nil {
		b.Block.Reset()
	}
}

// Subset returns the rows for which keep is true, as a new batch with the same id.
func (b *Batch) Subset(keep func(i int) bool) *Batch {
	n := &Batch{ID: b.ID}
	if b.Block == nil {
		return n
	}
	n.Block = nativeblock.New(b.Block.Modern())
	for i := range b.Len() {
		if !keep(i) {
			continue
		}
		if i < len(b.Caps) {
			n.Caps = append(n.Caps, b.Caps[i])
		}
		n.Block.AppendRow(b.Block, i)
	}
	return n
}

// TimeAt returns the time of row i, to the millisecond as stored.
func (b *Batch) TimeAt(i int) time.Time { return b.Block.TimeAt(i) }

// QNameAt returns the qname of row i.
func (b *Batch) QNameAt(i int) string { return string(b.Block.QNameAt(i)) }

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
// for tests, not for the writer's own path. Each text column is one string cut per row.
func (b *Batch) Rows() *Rows {
	if b.rows != nil {
		return b.rows
	}
	r := &Rows{}
	n := b.Len()
	if n == 0 {
		b.rows = r
		return r
	}
	blk := b.Block
	r.Time, r.TimeMs, r.Client = make([]time.Time, n), make([]uint16, n), make([]netip.Addr, n)
	for i := range n {
		t := blk.TimeAt(i)
		r.Time[i], r.TimeMs[i] = t, uint16(t.Nanosecond()/int(time.Millisecond))
		a := netip.AddrFrom16(blk.Client.At(i)).Unmap()
		if a == netip.IPv6Unspecified() {
			a = netip.Addr{}
		}
		r.Client[i] = a
	}
	r.Sensor, r.Server, r.Transport = blk.Sensor.Strings(), blk.Server.Strings(), blk.Transport.Strings()
	r.QName, r.QType, r.QClass, r.RCode = blk.QName.Strings(), blk.QType.Strings(), blk.QClass.Strings(), blk.RCode.Strings()
	r.Flags = append([]uint16(nil), *blk.Flags...)
	r.Answer.set(blk.Answer, n)
	r.Authority.set(blk.Authority, n)
	r.Size = append([]uint32(nil), *blk.Size...)
	r.DurationUs = append([]uint32(nil), *blk.DurationUs...)
	b.rows = r
	return r
}

// set makes the section's rows, cut from one slice per column.
func (s *Section) set(from *nativeblock.Section, n int) {
	name, typ, class, data := from.Name.Strings(), from.Type.Strings(), from.Class.Strings(), from.Data.Strings()
	ttl := append([]uint32(nil), *from.TTL...)
	s.Name, s.Type, s.Class = make([][]string, n), make([][]string, n), make([][]string, n)
	s.TTL, s.Data = make([][]uint32, n), make([][]string, n)
	for i := range n {
		lo, hi := from.Records(i)
		s.Name[i], s.Type[i], s.Class[i] = name[lo:hi:hi], typ[lo:hi:hi], class[lo:hi:hi]
		s.TTL[i], s.Data[i] = ttl[lo:hi:hi], data[lo:hi:hi]
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
