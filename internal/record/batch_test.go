package record_test

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"testing"
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
