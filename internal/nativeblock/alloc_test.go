package nativeblock

import (
	"testing"

	"github.com/ClickHouse/ch-go/proto"
)

// TestNoAllocPerRow: once the buffers have grown, a batch of responses appended, encoded
// and reset allocates nothing per row; Encode's few allocations (type names) are per block.
func TestNoAllocPerRow(t *testing.T) {
	rows := benchMix(2000)
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			blk := New(f.modern)
			var buf proto.Buffer
			batch := func(n int) func() {
				return func() {
					for i := range n {
						rows[i].appendTo(blk)
					}
					buf.Reset()
					if err := blk.Encode(&buf, 1); err != nil {
						t.Fatal(err)
					}
					blk.Reset()
				}
			}
			batch(len(rows))() // grow
			small := testing.AllocsPerRun(5, batch(100))
			large := testing.AllocsPerRun(5, batch(len(rows)))
			appendOnly := testing.AllocsPerRun(5, func() {
				for i := range rows {
					rows[i].appendTo(blk)
				}
				blk.Reset()
			})
			t.Logf("allocations: %v per block of 100, %v per block of %d, %v appending %d rows", small, large, len(rows), appendOnly, len(rows))
			// The race detector allocates on its own, a few dozen a block, not a row: there
			// only per-row growth is an error (2000 rows would add thousands).
			perBlockOK := large == small && large <= 100
			if raceEnabled {
				perBlockOK = large <= small+small/4
			}
			if appendOnly != 0 || !perBlockOK {
				t.Errorf("allocations: %v per block of 100, %v per block of %d, %v appending %d rows; want the same few per block and none per row",
					small, large, len(rows), appendOnly, len(rows))
			}
		})
	}
}
