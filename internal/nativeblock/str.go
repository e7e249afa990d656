package nativeblock

import (
	"encoding/binary"
	"slices"

	"github.com/ClickHouse/ch-go/proto"
)

// colStr is ch-go's String column with an encoder for short values. A response has some
// fifteen of them in the portable flavor (names, type and class names, rcode), and
// proto.ColStr's encoder appends twice per value, growing the buffer each time; this one
// grows it once per column and copies.
type colStr struct{ proto.ColStr }

var _ proto.ColumnOf[string] = (*colStr)(nil)

// EncodeColumn writes the values as proto.ColStr does: each one's length as a varint, then
// its bytes.
func (c *colStr) EncodeColumn(b *proto.Buffer) {
	// A length takes at most binary.MaxVarintLen32 octets: no value reaches 4 GiB.
	out := slices.Grow(b.Buf, len(c.Buf)+binary.MaxVarintLen32*len(c.Pos))
	j := len(out)
	out = out[:cap(out)]
	for _, p := range c.Pos {
		if n := p.End - p.Start; n < 0x80 {
			out[j] = byte(n)
			j++
		} else {
			j += binary.PutUvarint(out[j:], uint64(n))
		}
		j += copy(out[j:], c.Buf[p.Start:p.End])
	}
	b.Buf = out[:j]
}

// WriteColumn is EncodeColumn for a proto.Writer.
func (c *colStr) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }
