package nativeblock

import (
	"fmt"
	"time"
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

// AppendRow appends row i of src, a block of the same flavor: a retry can send again only
// the rows that did not land.
func (r *Responses) AppendRow(src *Responses, i int) error {
	if src.modern != r.modern {
		return fmt.Errorf("nativeblock: a row of the other schema flavor")
	}
	if src.Time.t64 != nil {
		r.Time.t64.AppendRaw(src.Time.t64.Data[i])
	} else {
		r.Time.sec.AppendRaw(src.Time.sec.Data[i])
		r.Time.ms.Append(src.Time.ms.Row(i))
	}
	r.Sensor.appendFrom(src.Sensor, i)
	r.Server.appendFrom(src.Server, i)
	r.Transport.appendFrom(src.Transport, i)
	if src.Client.ip6 != nil {
		r.Client.ip6.Append(src.Client.ip6.Row(i))
	} else {
		r.Client.fixed.Buf = append(r.Client.fixed.Buf, src.Client.fixed.Row(i)...)
	}
	r.QName.AppendBytes(src.QNameAt(i))
	r.QType.appendFrom(src.QType, i)
	r.QClass.appendFrom(src.QClass, i)
	r.RCode.appendFrom(src.RCode, i)
	r.Flags.Append(src.Flags.Row(i))
	r.Answer.appendFrom(src.Answer, i)
	r.Authority.appendFrom(src.Authority, i)
	r.Size.Append(src.Size.Row(i))
	r.DurationUs.Append(src.DurationUs.Row(i))
	return nil
}

func (l *Label) appendFrom(src *Label, i int) {
	if src.lc != nil {
		l.lc.Append(src.lc.Values[i])
		return
	}
	l.str.AppendBytes(src.str.RowBytes(i))
}

func (s *Section) appendFrom(src *Section, i int) {
	start := 0
	if i > 0 {
		start = int(src.name.Offsets[i-1])
	}
	for j := start; j < int(src.name.Offsets[i]); j++ {
		s.Name.AppendBytes(src.Name.c.RowBytes(j))
		s.Type.appendFrom(src.Type, j)
		s.Class.appendFrom(src.Class, j)
		s.TTL.Append(src.TTL.Row(j))
		s.Data.AppendBytes(src.Data.c.RowBytes(j))
	}
	s.EndRow()
}
