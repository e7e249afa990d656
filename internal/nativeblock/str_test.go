package nativeblock

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
)

// TestColStrEncodesAsChGo: colStr's encoder writes what proto.ColStr's writes, for lengths
// on either side of each varint step, after other bytes in the buffer and after a reset;
// its values read back one by one, all at once and decoded from the block.
func TestColStrEncodesAsChGo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lengths []int
	}{
		{"none", nil},
		{"empty values", []int{0, 0, 0}},
		{"short", []int{1, 5, 63, 127}},
		{"varint steps", []int{127, 128, 129, 16383, 16384, 70000}},
		{"mixed", []int{3, 200, 0, 1, 300, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ours colStr
			var theirs proto.ColStr
			for round := range 2 {
				for i, n := range tc.lengths {
					v := strings.Repeat(string(rune('a'+i%26)), n)
					ours.Append(v)
					theirs.Append(v)
				}
				a, b := proto.Buffer{Buf: []byte("head")}, proto.Buffer{Buf: []byte("head")}
				ours.EncodeColumn(&a)
				theirs.EncodeColumn(&b)
				if !bytes.Equal(a.Buf, b.Buf) {
					t.Errorf("round %d: lengths %v encode as\n%.200x\nwant\n%.200x", round, tc.lengths, a.Buf, b.Buf)
				}
				// Each value reads back as it went in, and the block decodes to them.
				if ours.Rows() != theirs.Rows() {
					t.Fatalf("round %d: %d rows, want %d", round, ours.Rows(), theirs.Rows())
				}
				all := ours.strings()
				for i := range ours.Rows() {
					if got, want := ours.RowBytes(i), theirs.RowBytes(i); !bytes.Equal(got, want) || all[i] != string(want) {
						t.Fatalf("round %d: value %d reads %.20q (%.20q), want %.20q", round, i, got, all[i], want)
					}
				}
				var back colStr
				if err := back.DecodeColumn(proto.NewReader(bytes.NewReader(a.Buf[len("head"):])), len(tc.lengths)); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(back.strings(), all) {
					t.Errorf("round %d: decodes to other values", round)
				}
				ours.Reset()
				theirs.Reset()
			}
		})
	}
}
