package nativeblock

import (
	"net/netip"
	"time"

	"github.com/ClickHouse/ch-go/proto"
)

// Str is a String column that a decoder writes into directly.
type Str struct{ c *colStr }

// Append adds one value.
func (s Str) Append(v string) { s.c.Append(v) }

// AppendBytes adds one value from bytes; the bytes are copied.
func (s Str) AppendBytes(v []byte) { s.c.AppendBytes(v) }

// Buf returns the column's buffer for writing a value in place: append the value's bytes to
// it and pass the result to Commit. Nothing else may touch the column in between.
func (s Str) Buf() []byte { return s.c.Buf }

// Commit ends a value written in place into the buffer returned by Buf.
func (s Str) Commit(buf []byte) { s.c.commit(buf) }

// Rows returns the number of values.
func (s Str) Rows() int { return s.c.Rows() }

// Label is a column of few distinct strings (type and class names, rcodes, sensor): String
// in the portable flavor, LowCardinality(String) in the modern one. Its values are interned,
// so appending bytes that were seen before allocates nothing.
type Label struct {
	str    *colStr  // portable
	lc     *lowCard // modern
	intern map[string]string
}

// maxInterned bounds the intern table; it holds type and class names, which are at most
// 2 x 65536 even when every number shows up.
const maxInterned = 1 << 18

func newLabel(modern bool) *Label {
	if modern {
		return &Label{lc: newLowCard(), intern: map[string]string{}}
	}
	return &Label{str: new(colStr)}
}

func (l *Label) col() proto.ColumnOf[string] {
	if l.lc != nil {
		return l.lc
	}
	return l.str
}

// Append adds one value. The modern flavor keeps v as its dictionary's when it is new: a
// string that does not change (not one made over reused bytes).
func (l *Label) Append(v string) {
	if l.lc != nil {
		l.lc.Append(v)
		return
	}
	l.str.Append(v)
}

// AppendCode adds name, the name of code (an RR type or class, an rcode), which must be
// the same string for the same code every time (wire.TypeName's, say); the modern flavor
// then finds its dictionary key by the code.
func (l *Label) AppendCode(code uint16, name string) {
	if l.lc != nil {
		l.lc.appendCode(code, name)
		return
	}
	l.str.Append(name)
}

// AppendBytes adds one value from bytes.
func (l *Label) AppendBytes(v []byte) {
	if l.lc == nil {
		l.str.AppendBytes(v)
		return
	}
	s, ok := l.intern[string(v)] // no allocation for the lookup
	if !ok {
		if len(l.intern) >= maxInterned {
			clear(l.intern)
		}
		s = string(v)
		l.intern[s] = s
	}
	l.lc.Append(s)
}

// Rows returns the number of values.
func (l *Label) Rows() int { return l.col().Rows() }

// Time is the time of a response: DateTime('UTC') plus time_ms UInt16 in the portable
// flavor, DateTime64(3, 'UTC') in the modern one.
type Time struct {
	sec *proto.ColDateTime
	ms  *proto.ColUInt16
	t64 *proto.ColDateTime64
}

// Append adds one time, to the millisecond (truncated, as time_ms always was).
func (t Time) Append(v time.Time) {
	if t.t64 != nil {
		t.t64.AppendRaw(proto.DateTime64(v.UnixMilli()))
		return
	}
	t.sec.AppendRaw(proto.DateTime(uint32(v.Unix())))
	t.ms.Append(uint16(v.Nanosecond() / int(time.Millisecond)))
}

// Set changes the time of row i, already appended.
func (t Time) Set(i int, v time.Time) {
	if t.t64 != nil {
		t.t64.Data[i] = proto.DateTime64(v.UnixMilli())
		return
	}
	t.sec.Data[i] = proto.DateTime(uint32(v.Unix()))
	(*t.ms)[i] = uint16(v.Nanosecond() / int(time.Millisecond))
}

// AppendUnixMilli adds one time given as milliseconds since the Unix epoch.
func (t Time) AppendUnixMilli(ms int64) {
	if t.t64 != nil {
		t.t64.AppendRaw(proto.DateTime64(ms))
		return
	}
	sec, rem := ms/1000, ms%1000
	if rem < 0 {
		sec, rem = sec-1, rem+1000
	}
	t.sec.AppendRaw(proto.DateTime(uint32(sec)))
	t.ms.Append(uint16(rem))
}

// Rows returns the number of values.
func (t Time) Rows() int {
	if t.t64 != nil {
		return t.t64.Rows()
	}
	return t.sec.Rows()
}

// Addr is the client address: FixedString(16) in the portable flavor, IPv6 in the modern
// one, both holding IPv4 addresses IPv4-mapped and an invalid address as ::.
type Addr struct {
	fixed *proto.ColFixedStr
	ip6   *proto.ColIPv6
}

// Append adds one address.
func (a Addr) Append(v netip.Addr) {
	var b [16]byte
	if v.IsValid() {
		b = v.As16()
	}
	a.Append16(b)
}

// Append16 adds one address as its 16 bytes in network order.
func (a Addr) Append16(b [16]byte) {
	if a.ip6 != nil {
		a.ip6.Append(proto.IPv6(b))
		return
	}
	a.fixed.Buf = append(a.fixed.Buf, b[:]...)
}

// Rows returns the number of values.
func (a Addr) Rows() int {
	if a.ip6 != nil {
		return a.ip6.Rows()
	}
	return a.fixed.Rows()
}

// Section is one message section as the Array columns of a Nested field (answer.name,
// answer.type, ...). Append the records of a response, then EndRow.
type Section struct {
	Name  Str
	Type  *Label
	Class *Label
	TTL   *proto.ColUInt32
	Data  Str

	// offsets ends each response's records; the five columns share it (nested).
	offsets                     proto.ColUInt64
	name, typ, class, ttl, data nested
}

func newSection(modern bool) *Section {
	s := &Section{Type: newLabel(modern), Class: newLabel(modern), TTL: new(proto.ColUInt32)}
	name, data := new(colStr), new(colStr)
	s.Name, s.Data = Str{name}, Str{data}
	s.name, s.data = nested{&s.offsets, name}, nested{&s.offsets, data}
	s.typ, s.class = nested{&s.offsets, s.Type.col()}, nested{&s.offsets, s.Class.col()}
	s.ttl = nested{&s.offsets, s.TTL}
	return s
}

// nested is one column of a Nested field, an Array column whose offsets are the field's:
// every column of a section has the same, so the section keeps one copy of them, not five.
// It encodes as proto.ColArr does.
type nested struct {
	offsets *proto.ColUInt64
	data    nestedData
}

type nestedData interface {
	proto.ColInput
	proto.Resettable
}

var (
	_ proto.ColInput     = nested{}
	_ proto.StateEncoder = nested{}
	_ proto.Preparable   = nested{}
	_ proto.Resettable   = nested{}
)

func (a nested) Type() proto.ColumnType { return proto.ColumnTypeArray.Sub(a.data.Type()) }
func (a nested) Rows() int              { return a.offsets.Rows() }

// Reset empties the column and the shared offsets (each of the five does; no harm).
func (a nested) Reset() {
	a.offsets.Reset()
	a.data.Reset()
}

// EncodeState writes the element column's state prefix (LowCardinality has one).
func (a nested) EncodeState(b *proto.Buffer) {
	if s, ok := a.data.(proto.StateEncoder); ok {
		s.EncodeState(b)
	}
}

// Prepare readies the element column (LowCardinality builds its dictionary).
func (a nested) Prepare() error {
	if p, ok := a.data.(proto.Preparable); ok {
		return p.Prepare()
	}
	return nil
}

func (a nested) EncodeColumn(b *proto.Buffer) {
	a.offsets.EncodeColumn(b)
	a.data.EncodeColumn(b)
}

func (a nested) WriteColumn(w *proto.Writer) {
	a.offsets.WriteColumn(w)
	a.data.WriteColumn(w)
}

// Append adds one record whose name and data are bytes (written by a decoder).
func (s *Section) Append(name []byte, typ, class string, ttl uint32, data []byte) {
	s.Name.AppendBytes(name)
	s.Type.Append(typ)
	s.Class.Append(class)
	s.TTL.Append(ttl)
	s.Data.AppendBytes(data)
}

// AppendString is Append for strings.
func (s *Section) AppendString(name, typ, class string, ttl uint32, data string) {
	s.Name.Append(name)
	s.Type.Append(typ)
	s.Class.Append(class)
	s.TTL.Append(ttl)
	s.Data.Append(data)
}

// EndRow ends the section of one response: the records appended since the last EndRow
// are its arrays (none makes empty arrays).
func (s *Section) EndRow() { s.offsets.Append(uint64(s.Name.Rows())) }

// Rows returns the number of responses (ended rows).
func (s *Section) Rows() int { return s.offsets.Rows() }
