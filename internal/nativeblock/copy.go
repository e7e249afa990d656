package nativeblock

import (
	"time"
	"unsafe"
)

// TimeAt returns the time of row i.
func (r *Responses) TimeAt(i int) time.Time {
	if r.Time.t64 != nil {
		return time.UnixMilli(int64(r.Time.t64.Data[i])).UTC()
	}
	return time.Unix(int64(r.Time.sec.Data[i]), int64(r.Time.ms.Row(i))*int64(time.Millisecond)).UTC()
}

// QNameAt returns the qname of row i; the bytes belong to the block.
func (r *Responses) QNameAt(i int) []byte { return r.QName.c.RowBytes(i) }

// Strings returns every value as a string, sharing one copy of the column's bytes.
func (s Str) Strings() []string { return s.c.strings() }

// Strings returns every value.
func (l *Label) Strings() []string {
	if l.lc != nil {
		out := make([]string, l.lc.Rows())
		for i := range out {
			out[i] = l.lc.Row(i)
		}
		return out
	}
	return Str{l.str}.Strings()
}

// At returns value i; the bytes belong to the column.
func (s Str) At(i int) []byte { return s.c.RowBytes(i) }

// At returns value i.
func (l *Label) At(i int) string {
	if l.lc != nil {
		return l.lc.Row(i)
	}
	return l.str.Row(i)
}

// AtBytes returns value i as bytes that belong to the column: no copy, and not to be changed.
func (l *Label) AtBytes(i int) []byte {
	if l.lc != nil {
		v := l.lc.Row(i)
		return unsafe.Slice(unsafe.StringData(v), len(v))
	}
	return l.str.RowBytes(i)
}

// At returns address i as its 16 bytes.
func (a Addr) At(i int) [16]byte {
	if a.ip6 != nil {
		return [16]byte(a.ip6.Row(i))
	}
	return [16]byte(a.fixed.Row(i))
}

// Records returns the range of records [lo, hi) of row i: the indexes into Name, Type,
// Class, TTL and Data.
func (s *Section) Records(i int) (lo, hi int) {
	if i > 0 {
		lo = int(s.offsets[i-1])
	}
	return lo, int(s.offsets[i])
}

// AppendRow appends row i of src, a block of either flavor: a retry sends again only the
// rows that did not land, and a batch decoded before the server's flavor was known is
// converted to it.
func (r *Responses) AppendRow(src *Responses, i int) {
	if !src.modern && !r.modern { // both portable: the raw seconds and milliseconds
		r.Time.sec.AppendRaw(src.Time.sec.Data[i])
		r.Time.ms.Append(src.Time.ms.Row(i))
	} else {
		r.Time.AppendUnixMilli(src.TimeAt(i).UnixMilli())
	}
	r.Sensor.appendFrom(src.Sensor, i)
	r.Server.appendFrom(src.Server, i)
	r.Transport.appendFrom(src.Transport, i)
	r.Client.Append16(src.Client.At(i))
	r.QName.AppendBytes(src.QNameAt(i))
	r.QType.appendFrom(src.QType, i)
	r.QClass.appendFrom(src.QClass, i)
	r.RCode.appendFrom(src.RCode, i)
	r.Flags.Append(src.Flags.Row(i))
	r.Answer.appendFrom(src.Answer, i)
	r.Authority.appendFrom(src.Authority, i)
	r.Size.Append(src.Size.Row(i))
	r.DurationUs.Append(src.DurationUs.Row(i))
}

func (l *Label) appendFrom(src *Label, i int) {
	if src.lc != nil {
		l.Append(src.lc.Row(i))
		return
	}
	l.AppendBytes(src.str.RowBytes(i))
}

func (s *Section) appendFrom(src *Section, i int) {
	lo, hi := src.Records(i)
	for j := lo; j < hi; j++ {
		s.Name.AppendBytes(src.Name.c.RowBytes(j))
		s.Type.appendFrom(src.Type, j)
		s.Class.appendFrom(src.Class, j)
		s.TTL.Append(src.TTL.Row(j))
		s.Data.AppendBytes(src.Data.c.RowBytes(j))
	}
	s.EndRow()
}
