package nativeblock

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ClickHouse/ch-go/proto"
)

// TestAppendCode: a label column filled by code holds and encodes the same as one filled by
// name, in both flavors, also after a reset (a key remembered from the block before would
// point into the wrong dictionary) and for codes past the array.
func TestAppendCode(t *testing.T) {
	name := func(code uint16) string { return fmt.Sprintf("T%d", code) }
	for _, tc := range []struct {
		name   string
		blocks [][]uint16 // the codes of each block, reset between blocks
	}{
		{"repeats", [][]uint16{{1, 1, 5, 1, 5, 5, 28}}},
		{"reset reorders", [][]uint16{{5, 1, 28}, {28, 5, 1, 1}, {1}}},
		{"large codes", [][]uint16{{255, 256, 65535, 256, 255, 1}, {65535, 1}}},
		{"mixed with names", [][]uint16{{2, 0, 2}}}, // 0: appended by name below
	} {
		for _, modern := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/modern=%v", tc.name, modern), func(t *testing.T) {
				byCode, byName := newLabel(modern), newLabel(modern)
				for _, codes := range tc.blocks {
					for _, c := range codes {
						if c == 0 { // code 2's name, appended by name
							byCode.Append(name(2))
							byName.Append(name(2))
							continue
						}
						byCode.AppendCode(c, name(c))
						byName.Append(name(c))
					}
					for i := range codes {
						if a, b := byCode.col().Row(i), byName.col().Row(i); a != b {
							t.Errorf("row %d: %q by code, %q by name", i, a, b)
						}
					}
					if a, b := encodeLabel(byCode), encodeLabel(byName); !bytes.Equal(a, b) {
						t.Errorf("codes %v encode as\n%x\nby name\n%x", codes, a, b)
					}
					byCode.col().(interface{ Reset() }).Reset()
					byName.col().(interface{ Reset() }).Reset()
				}
			})
		}
	}
}

func encodeLabel(l *Label) []byte {
	var b proto.Buffer
	if l.lc != nil {
		l.lc.Prepare()
		l.lc.EncodeColumn(&b)
	} else {
		l.str.EncodeColumn(&b)
	}
	return b.Buf
}
