package nativeblock

import (
	"bytes"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
)

// TestNestedEncodesAsColArr: a section's five columns, sharing one copy of the offsets,
// encode in a block byte for byte as proto.ColArr columns with offsets of their own, in
// both flavors (LowCardinality elements have a state prefix and a dictionary), with rows
// of no records among them, and again after a reset.
func TestNestedEncodesAsColArr(t *testing.T) {
	rows := [][]struct {
		name, typ string
		ttl       uint32
		data      string
	}{
		{{"a.example.", "CNAME", 300, "b.example."}, {"b.example.", "A", 60, "192.0.2.1"}},
		{},
		{{"c.example.", "AAAA", 20, "2001:db8::1"}},
		{},
	}
	for _, modern := range []bool{false, true} {
		s := newSection(modern)
		for round := range 2 {
			for _, recs := range rows {
				for _, r := range recs {
					s.AppendString(r.name, r.typ, "IN", r.ttl, r.data)
				}
				s.EndRow()
			}
			ours := proto.Input{
				{Name: "n", Data: s.name}, {Name: "t", Data: s.typ}, {Name: "c", Data: s.class},
				{Name: "l", Data: s.ttl}, {Name: "d", Data: s.data},
			}
			arr := func(data proto.ColInput) proto.ColInput {
				switch c := data.(type) {
				case *colStr:
					return &proto.ColArr[string]{Offsets: append(proto.ColUInt64(nil), s.offsets...), Data: c}
				case *lowCard:
					return &proto.ColArr[string]{Offsets: append(proto.ColUInt64(nil), s.offsets...), Data: c}
				case *proto.ColUInt32:
					return &proto.ColArr[uint32]{Offsets: append(proto.ColUInt64(nil), s.offsets...), Data: c}
				}
				t.Fatalf("no reference for %T", data)
				return nil
			}
			theirs := proto.Input{
				{Name: "n", Data: arr(s.name.data)}, {Name: "t", Data: arr(s.typ.data)}, {Name: "c", Data: arr(s.class.data)},
				{Name: "l", Data: arr(s.ttl.data)}, {Name: "d", Data: arr(s.data.data)},
			}
			var a, b proto.Buffer
			for buf, in := range map[*proto.Buffer]proto.Input{&a: ours, &b: theirs} {
				if err := (proto.Block{Columns: len(in), Rows: len(rows)}).EncodeRawBlock(buf, 0, in); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(a.Buf, b.Buf) {
				t.Errorf("modern %v, round %d: encodes as\n%x\nwant\n%x", modern, round, a.Buf, b.Buf)
			}
			if s.Rows() != len(rows) || s.name.Type() != theirs[0].Data.Type() {
				t.Errorf("modern %v: %d rows of %s", modern, s.Rows(), s.name.Type())
			}
			ours.Reset()
			if s.Rows() != 0 || s.Name.Rows() != 0 || s.TTL.Rows() != 0 {
				t.Errorf("modern %v: reset leaves %d rows, %d names, %d TTLs", modern, s.Rows(), s.Name.Rows(), s.TTL.Rows())
			}
		}
	}
}
