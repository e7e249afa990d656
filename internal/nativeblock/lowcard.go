package nativeblock

import (
	"errors"
	"math"

	"github.com/ClickHouse/ch-go/proto"
)

// lowCard is a LowCardinality(String) column that holds a row as its key into the block's
// dictionary: a number, where proto.ColLowCardinality keeps a string per row (a pointer the
// garbage collector scans, 10 and more per response) and builds the keys only to encode.
// It encodes the same way: the dictionary of the block's values in first-seen order, then
// the keys, UInt8 to UInt32 as the dictionary's size needs.
type lowCard struct {
	keys []uint32
	dict proto.ColStr
	text []string          // the dictionary's values, for Row
	ids  map[string]uint32 // the dictionary's keys

	last   string // the value appended last, and its key
	lastID uint32

	// codes holds, for the small codes whose names appendCode was given, 1 + the name's
	// key (0: not in this block's dictionary yet); made on first use.
	codes *[256]uint32

	k8  proto.ColUInt8
	k16 proto.ColUInt16
	k32 proto.ColUInt32
}

var _ proto.ColumnOf[string] = (*lowCard)(nil)

func newLowCard() *lowCard { return &lowCard{ids: map[string]uint32{}} }

// The serialization of LowCardinality as the native format writes it: a key version in
// the column's state, and per block flags with the key width.
const (
	lowCardKeyVersion     = 1       // shared dictionaries with additional keys
	lowCardAdditionalKeys = 1 << 9  // the block's dictionary precedes its keys
	lowCardUpdateDict     = 1 << 10 // the dictionary replaces the previous one
)

// Append adds one value; the string is kept as the dictionary's when it is new, so pass
// one that does not change (a constant or an interned string).
func (c *lowCard) Append(v string) {
	// Most rows repeat the previous row's value (the sensor, the class IN, an RRset's
	// type): a comparison of two strings, at once when they are the same one, costs less
	// than the map lookup.
	if len(c.keys) > 0 && v == c.last {
		c.keys = append(c.keys, c.lastID)
		return
	}
	id, ok := c.ids[v]
	if !ok {
		id = uint32(len(c.text))
		c.ids[v] = id
		c.text = append(c.text, v)
		c.dict.Append(v)
	}
	c.last, c.lastID = v, id
	c.keys = append(c.keys, id)
}

// appendCode adds name, the name of code (an RR type or class, an rcode): the same name
// for the same code, always. A small code finds its key in an array, where Append hashes
// the name whenever it differs from the row before's (an RRset's type after a CNAME's).
func (c *lowCard) appendCode(code uint16, name string) {
	if int(code) >= len(c.codes) {
		c.Append(name)
		return
	}
	if c.codes == nil {
		c.codes = new([256]uint32)
	} else if k := c.codes[code]; k != 0 {
		c.keys = append(c.keys, k-1)
		return
	}
	c.Append(name)
	c.codes[code] = c.lastID + 1
}

func (c *lowCard) AppendArr(vs []string) {
	for _, v := range vs {
		c.Append(v)
	}
}

func (c *lowCard) Row(i int) string { return c.text[c.keys[i]] }

func (c *lowCard) Rows() int { return len(c.keys) }

func (c *lowCard) Type() proto.ColumnType {
	return proto.ColumnTypeLowCardinality.Sub(proto.ColumnTypeString)
}

// Reset empties the column and its dictionary, keeping every buffer.
func (c *lowCard) Reset() {
	c.keys = c.keys[:0]
	c.dict.Reset()
	clear(c.text)
	c.text = c.text[:0]
	clear(c.ids)
	c.last = ""
	if c.codes != nil {
		clear(c.codes[:])
	}
}

// EncodeState writes the key version, once per column before its blocks.
func (c *lowCard) EncodeState(b *proto.Buffer) { b.PutInt64(lowCardKeyVersion) }

// Prepare writes the keys in the width the dictionary needs; Block encoding calls it.
func (c *lowCard) Prepare() error {
	c.k8, c.k16, c.k32 = c.k8[:0], c.k16[:0], c.k32[:0]
	switch n := len(c.text); {
	case n <= math.MaxUint8+1:
		for _, k := range c.keys {
			c.k8 = append(c.k8, uint8(k))
		}
	case n <= math.MaxUint16+1:
		for _, k := range c.keys {
			c.k16 = append(c.k16, uint16(k))
		}
	default:
		c.k32 = append(c.k32, c.keys...)
	}
	return nil
}

func (c *lowCard) EncodeColumn(b *proto.Buffer) {
	if len(c.keys) == 0 {
		return
	}
	var keys proto.ColInput
	var width proto.CardinalityKey
	switch n := len(c.text); {
	case n <= math.MaxUint8+1:
		keys, width = &c.k8, proto.KeyUInt8
	case n <= math.MaxUint16+1:
		keys, width = &c.k16, proto.KeyUInt16
	default:
		keys, width = &c.k32, proto.KeyUInt32
	}
	b.PutInt64(lowCardAdditionalKeys | lowCardUpdateDict | int64(width))
	b.PutInt64(int64(c.dict.Rows()))
	c.dict.EncodeColumn(b)
	b.PutInt64(int64(len(c.keys)))
	keys.EncodeColumn(b)
}

func (c *lowCard) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// DecodeColumn is not supported: blocks are only written.
func (c *lowCard) DecodeColumn(*proto.Reader, int) error {
	return errors.New("nativeblock: LowCardinality columns are write-only")
}
