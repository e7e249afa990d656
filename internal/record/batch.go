package record

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/wire"
)

// Batch holds decoded responses column by column, in the order of the responses table,
// so an insert appends whole columns at once.
type Batch struct {
	ID        uint64 // random; lets a retry find out whether an earlier attempt landed
	Uncertain bool   // an earlier insert attempt may have been written

	Caps []Capture // the captures of the rows, kept to spool the batch if ClickHouse fails

	Time       []time.Time
	TimeMs     []uint16
	Sensor     []string
	Server     []string
	Transport  []string
	Client     []netip.Addr
	QName      []string
	QType      []string
	QClass     []string
	RCode      []string
	Flags      []uint16
	Answer     Section
	Authority  Section
	Size       []uint32
	DurationUs []uint32

	arena []byte // the bytes of the rows' names and record data (see Add)
}

// Section is one message section as the columns of a Nested field.
type Section struct {
	Name  [][]string
	Type  [][]string
	Class [][]string
	TTL   [][]uint32
	Data  [][]string

	strs []string // backing store of the rows above
	nums []uint32
}

func (b *Batch) Len() int { return len(b.Time) }

// Decoder is the writer's scratch space for turning captures into rows: the wire walk,
// and a miekg/dns message for the sizes the walk leaves to the library.
type Decoder struct {
	w   wire.Decoder
	msg dns.Msg
	buf []byte
}

// Add decodes one captured response. The names and record data are written into the
// batch's arena and the row's strings point into it (see Reset), so a batch that is
// reused allocates nothing for them; the text is byte for byte what miekg/dns prints
// (internal/wire), which decodes what the walk does not cover.
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
	t := c.Time.UTC()
	b.Caps = append(b.Caps, *c)
	b.Time = append(b.Time, t)
	b.TimeMs = append(b.TimeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
	b.Sensor = append(b.Sensor, sensor)
	b.Server = append(b.Server, c.Server)
	b.Transport = append(b.Transport, c.Transport)
	b.Client = append(b.Client, c.Client)
	var qname, qtype, qclass string
	if w.Questions() > 0 {
		start := len(b.arena)
		b.arena = w.AppendQName(b.arena)
		qname, qtype, qclass = b.text(start), wire.TypeName(w.QType()), wire.ClassName(w.QClass())
	}
	b.QName = append(b.QName, qname)
	b.QType = append(b.QType, qtype)
	b.QClass = append(b.QClass, qclass)
	b.RCode = append(b.RCode, wire.RcodeName(w.Rcode()))
	b.Flags = append(b.Flags, binary.BigEndian.Uint16(c.Wire[2:4]))
	b.Answer.add(b, w.NumAnswer(), w.Answer)
	b.Authority.add(b, w.NumAuthority(), w.Authority)
	b.Size = append(b.Size, size)
	us := c.Elapsed.Microseconds()
	if us > int64(^uint32(0)) {
		us = int64(^uint32(0))
	}
	b.DurationUs = append(b.DurationUs, uint32(us))
	return nil
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

// text is the arena from start to its end as a string sharing the arena's bytes. Bytes
// once written are never changed until Reset, and a growing arena leaves the old array
// to the strings that point into it.
func (b *Batch) text(start int) string {
	if len(b.arena) == start {
		return ""
	}
	return unsafe.String(&b.arena[start], len(b.arena)-start)
}

// ReleaseCaptures hands the wire copies of the rows back to their pools: a writer that
// will never spool the batch needs only the decoded rows, and buffers returned at once
// are what the next captures reuse instead of allocating.
func (b *Batch) ReleaseCaptures() {
	for i := range b.Caps {
		b.Caps[i].Release()
	}
	clear(b.Caps)
	b.Caps = b.Caps[:0]
}

// Reset empties the batch for reuse under a new id, keeping every buffer. The strings of
// its rows point into its arena, which the next rows overwrite: only the batch's owner
// may call it, once nothing reads the old rows any more. The captures' pooled message
// buffers go back to their pool.
func (b *Batch) Reset(id uint64) {
	for i := range b.Caps {
		b.Caps[i].Release()
	}
	clear(b.Caps) // let the captured messages go
	*b = Batch{
		ID: id, Caps: b.Caps[:0], Time: b.Time[:0], TimeMs: b.TimeMs[:0], Sensor: b.Sensor[:0],
		Server: b.Server[:0], Transport: b.Transport[:0], Client: b.Client[:0], QName: b.QName[:0],
		QType: b.QType[:0], QClass: b.QClass[:0], RCode: b.RCode[:0], Flags: b.Flags[:0],
		Answer: b.Answer.reset(), Authority: b.Authority.reset(), Size: b.Size[:0],
		DurationUs: b.DurationUs[:0], arena: b.arena[:0],
	}
}

func (s *Section) reset() Section {
	return Section{Name: s.Name[:0], Type: s.Type[:0], Class: s.Class[:0], TTL: s.TTL[:0], Data: s.Data[:0],
		strs: s.strs[:0], nums: s.nums[:0]}
}

func (s *Section) add(b *Batch, n int, rec func(int) wire.Record) {
	// The row's slices are cut from section-wide arrays, reused with the batch: no
	// allocation per row once they have grown.
	start := len(s.strs)
	for i := range n {
		from := len(b.arena)
		b.arena = rec(i).AppendName(b.arena)
		s.strs = append(s.strs, b.text(from))
	}
	for i := range n {
		s.strs = append(s.strs, wire.TypeName(rec(i).Type()))
	}
	for i := range n {
		s.strs = append(s.strs, wire.ClassName(rec(i).Class()))
	}
	for i := range n {
		from := len(b.arena)
		b.arena = rec(i).AppendRdata(b.arena)
		s.strs = append(s.strs, b.text(from))
	}
	tstart := len(s.nums)
	for i := range n {
		s.nums = append(s.nums, rec(i).TTL())
	}
	cut := func(i int) []string { return s.strs[start+i*n : start+(i+1)*n : start+(i+1)*n] }
	s.Name = append(s.Name, cut(0))
	s.Type = append(s.Type, cut(1))
	s.Class = append(s.Class, cut(2))
	s.Data = append(s.Data, cut(3))
	s.TTL = append(s.TTL, s.nums[tstart:tstart+n:tstart+n])
}

// Subset returns the rows for which keep is true, as a new batch with the same id.
func (b *Batch) Subset(keep func(i int) bool) *Batch {
	n := &Batch{ID: b.ID}
	for i := range b.Time {
		if !keep(i) {
			continue
		}
		if i < len(b.Caps) {
			n.Caps = append(n.Caps, b.Caps[i])
		}
		n.Time = append(n.Time, b.Time[i])
		n.TimeMs = append(n.TimeMs, b.TimeMs[i])
		n.Sensor = append(n.Sensor, b.Sensor[i])
		n.Server = append(n.Server, b.Server[i])
		n.Transport = append(n.Transport, b.Transport[i])
		n.Client = append(n.Client, b.Client[i])
		n.QName = append(n.QName, b.QName[i])
		n.QType = append(n.QType, b.QType[i])
		n.QClass = append(n.QClass, b.QClass[i])
		n.RCode = append(n.RCode, b.RCode[i])
		n.Flags = append(n.Flags, b.Flags[i])
		n.Answer.copyRow(&b.Answer, i)
		n.Authority.copyRow(&b.Authority, i)
		n.Size = append(n.Size, b.Size[i])
		n.DurationUs = append(n.DurationUs, b.DurationUs[i])
	}
	return n
}

func (s *Section) copyRow(from *Section, i int) {
	s.Name = append(s.Name, from.Name[i])
	s.Type = append(s.Type, from.Type[i])
	s.Class = append(s.Class, from.Class[i])
	s.TTL = append(s.TTL, from.TTL[i])
	s.Data = append(s.Data, from.Data[i])
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
