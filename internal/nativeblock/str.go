package nativeblock

import (
	"encoding/binary"
	"slices"

	"github.com/ClickHouse/ch-go/proto"
)

// colStr is a String column kept as its values' bytes one after another and where each
// ends. proto.ColStr keeps a start and an end of 8 octets each per value; a row has some
// fifteen String values in the portable flavor (names, type and class names, rcode), so
// the positions alone were a third of a batch's memory. Its encoder grows the buffer once
// per column and copies, where proto.ColStr's appends twice per value.
//
// Its ends are 32 bits: a column holds less than 4 GiB, which a block of record.BlockRows
// rows, each decoded from one DNS message, stays far below.
type colStr struct {
	Buf  []byte
	ends []uint32
}

var _ proto.ColumnOf[string] = (*colStr)(nil)

// Type implements proto.Column.
func (c *colStr) Type() proto.ColumnType { return proto.ColumnTypeString }

// Rows implements proto.Column.
func (c *colStr) Rows() int { return len(c.ends) }

// Reset implements proto.Column; the buffers are kept.
func (c *colStr) Reset() {
	c.Buf = c.Buf[:0]
	c.ends = c.ends[:0]
}

// Append adds one value.
func (c *colStr) Append(v string) { c.commit(append(c.Buf, v...)) }

// AppendBytes adds one value from bytes; the bytes are copied.
func (c *colStr) AppendBytes(v []byte) { c.commit(append(c.Buf, v...)) }

// AppendArr implements proto.ColumnOf.
func (c *colStr) AppendArr(vs []string) {
	for _, v := range vs {
		c.Append(v)
	}
}

// commit ends a value written in place: buf is the column's buffer with the value's bytes
// appended.
func (c *colStr) commit(buf []byte) {
	c.Buf = buf
	c.ends = append(c.ends, uint32(len(buf)))
}

// bounds returns where value i starts and ends in Buf.
func (c *colStr) bounds(i int) (start, end int) {
	if i > 0 {
		start = int(c.ends[i-1])
	}
	return start, int(c.ends[i])
}

// RowBytes returns value i; the bytes belong to the column.
func (c *colStr) RowBytes(i int) []byte {
	start, end := c.bounds(i)
	return c.Buf[start:end:end]
}

// Row implements proto.ColumnOf; the string is a copy.
func (c *colStr) Row(i int) string { return string(c.RowBytes(i)) }

// EncodeColumn writes the values as proto.ColStr does: each one's length as a varint, then
// its bytes.
func (c *colStr) EncodeColumn(b *proto.Buffer) {
	// A length takes at most binary.MaxVarintLen32 octets: no value reaches 4 GiB.
	out := slices.Grow(b.Buf, len(c.Buf)+binary.MaxVarintLen32*len(c.ends))
	j := len(out)
	out = out[:cap(out)]
	start := 0
	for _, e := range c.ends {
		end := int(e)
		if n := end - start; n < 0x80 {
			out[j] = byte(n)
			j++
		} else {
			j += binary.PutUvarint(out[j:], uint64(n))
		}
		j += copy(out[j:], c.Buf[start:end])
		start = end
	}
	b.Buf = out[:j]
}

// WriteColumn is EncodeColumn for a proto.Writer.
func (c *colStr) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// DecodeColumn implements proto.Column, through proto.ColStr (only tests read blocks back).
func (c *colStr) DecodeColumn(r *proto.Reader, rows int) error {
	var s proto.ColStr
	if err := s.DecodeColumn(r, rows); err != nil {
		return err
	}
	return s.ForEachBytes(func(_ int, v []byte) error {
		c.AppendBytes(v)
		return nil
	})
}

// strings returns every value, sharing one copy of the column's bytes.
func (c *colStr) strings() []string {
	all := string(c.Buf)
	out := make([]string, len(c.ends))
	start := 0
	for i, e := range c.ends {
		out[i] = all[start:e]
		start = int(e)
	}
	return out
}
