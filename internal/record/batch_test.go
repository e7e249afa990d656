package record_test

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"testing"
)

// BenchmarkDecode is the writer goroutine's cost per response: unpack and turn into rows.
func BenchmarkDecode(b *testing.B) {
	_, reply := recordtest.TypicalAnswer(b)
	wire, _ := reply.Pack()
	c := record.Capture{Wire: wire}
	d := new(record.Decoder)
	bt := &record.Batch{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%10000 == 0 {
			bt = &record.Batch{}
		}
		if err := bt.Add(&c, d, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
