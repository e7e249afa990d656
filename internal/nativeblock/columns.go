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
func (s Str) Commit(buf []byte) {
	start := 0
	if n := len(s.c.Pos); n > 0 {
		start = s.c.Pos[n-1].End
	}
	s.c.Buf = buf
	s.c.Pos = append(s.c.Pos, proto.Position{Start: start, End: len(buf)})
}

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

	name, data *proto.ColArr[string]
	typ, class *proto.ColArr[string]
	ttl        *proto.ColArr[uint32]
}

func newSection(modern bool) *Section {
	s := &Section{Type: newLabel(modern), Class: newLabel(modern), TTL: new(proto.ColUInt32)}
	name, data := new(colStr), new(colStr)
	s.Name, s.Data = Str{name}, Str{data}
	s.name, s.data = proto.NewArray[string](name), proto.NewArray[string](data)
	s.typ, s.class = proto.NewArray[string](s.Type.col()), proto.NewArray[string](s.Class.col())
	s.ttl = proto.NewArray[uint32](s.TTL)
	return s
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
func (s *Section) EndRow() {
	end := uint64(s.Name.Rows())
	s.name.Offsets.Append(end)
	s.typ.Offsets.Append(end)
	s.class.Offsets.Append(end)
	s.ttl.Offsets.Append(end)
	s.data.Offsets.Append(end)
}

// Rows returns the number of responses (ended rows).
func (s *Section) Rows() int { return s.name.Rows() }
