package record_test

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"testing"
	"time"
)

// BenchmarkDecode is the writer goroutine's cost per response: the typical answer as the
// recorder captures it (packed without compression, the client's copy compressed) turned
// into rows of a batch that is reused every 10,000 rows, as the writer reuses its batches.
func BenchmarkDecode(b *testing.B) {
	_, reply := recordtest.TypicalAnswer(b)
	m := *reply
	m.Compress = false
	wire, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	c := record.Capture{Wire: wire, Compress: true}
	d := new(record.Decoder)
	bt := &record.Batch{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%10000 == 0 {
			bt.Reset(1)
		}
		if err := bt.Add(&c, d, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBatchBlocks: a batch of more rows than a block holds keeps them in order across its
// blocks, for every reader (Rows, TimeAt, QNameAt, Subset), and once reset reuses them.
func TestBatchBlocks(t *testing.T) {
	n := 2*record.BlockRows + 100
	caps, names := recordtest.Numbered(t, "blk", n)
	b := record.NewBatch(1, false)
	d := new(record.Decoder)
	for round := range 2 {
		b.Reset(uint64(round + 1))
		for i := range caps {
			if err := b.Add(&caps[i], d, "s"); err != nil {
				t.Fatal(err)
			}
		}
		if b.Len() != n || len(b.Blocks) != 3 || b.Blocks[0].Rows() != record.BlockRows || b.Blocks[2].Rows() != 100 {
			t.Fatalf("round %d: %d rows in %d blocks", round, b.Len(), len(b.Blocks))
		}
		rows := b.Rows()
		if len(rows.QName) != n || len(rows.Answer.Data) != n {
			t.Fatalf("Rows: %d names, %d answer rows", len(rows.QName), len(rows.Answer.Data))
		}
		for _, i := range []int{0, record.BlockRows - 1, record.BlockRows, n - 1} {
			if rows.QName[i] != names[i] || b.QNameAt(i) != names[i] || !b.TimeAt(i).Equal(caps[i].Time.Truncate(time.Millisecond)) ||
				rows.Answer.Data[i][0] != "192.0.2.6" {
				t.Errorf("row %d: %q %q %v %v, want %q at %v", i, rows.QName[i], b.QNameAt(i), b.TimeAt(i), rows.Answer.Data[i], names[i], caps[i].Time)
			}
		}
		odd := b.Subset(func(i int) bool { return i%2 == 1 })
		if odd.Len() != n/2 || odd.QNameAt(record.BlockRows/2) != names[record.BlockRows+1] || odd.QNameAt(odd.Len()-1) != names[n-1] {
			t.Errorf("Subset: %d rows, row %d %q", odd.Len(), record.BlockRows/2, odd.QNameAt(record.BlockRows/2))
		}
	}
}
