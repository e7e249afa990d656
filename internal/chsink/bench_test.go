package chsink_test

import (
	"context"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
)

// BenchmarkInsertRows is the client side of an insert: 10,000 typical answers appended to
// a native insert block, not sent. It prints ns per row.
func BenchmarkInsertRows(b *testing.B) {
	_, reply := recordtest.TypicalAnswer(b)
	wire, _ := reply.Pack()
	rows := &record.Batch{ID: 1}
	d := new(record.Decoder)
	for range 10000 {
		if err := rows.Add(&record.Capture{Wire: wire, Time: time.Now()}, d, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	s := chsink.New(options(b, "bench_insert_rows"))
	defer s.Close()
	ctx := context.Background()
	if err := s.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ins, err := s.Conn().PrepareBatch(ctx, s.Schema().InsertResponses())
		if err != nil {
			b.Fatal(err)
		}
		if err := s.AppendColumns(ins, rows); err != nil {
			b.Fatal(err)
		}
		ins.Abort()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/row")
}
