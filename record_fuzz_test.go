package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/spool"

	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// FuzzRecord feeds arbitrary wire messages through what a response meets in passivedns:
// unpacking, the recorder (as a packed Write and as a WriteMsg), the row encoder and the
// spool codec. Nothing may panic, and whatever is recorded must come back the same
// from the spool.
func FuzzRecord(f *testing.F) {
	_, reply := recordtest.TypicalAnswer(f)
	wire, _ := reply.Pack()
	f.Add(wire)
	f.Add([]byte{})
	q := new(dns.Msg)
	q.SetQuestion(`a\.b\000.example.org.`, dns.TypeTXT)
	qw, _ := q.Pack()
	f.Add(qw)

	cfg := config{queue: 4, batch: 4, sensor: "fuzz"}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, nil)}
		m := new(dns.Msg)
		unpacked := m.Unpack(data) == nil
		p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
			w.Write(data)
			if unpacked {
				w.WriteMsg(m)
			}
			return 0, nil
		})
		query := new(dns.Msg)
		query.SetQuestion("example.org.", dns.TypeA)
		p.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), query)

		b := &record.Batch{ID: 1}
		d := new(record.Decoder)
		for q, ok := p.writer.queue.Take(); ok; q, ok = p.writer.queue.Take() {
			c := q.Capture()
			rec := spool.AppendRecord(nil, &c)
			back, err := spool.ParseRecord(rec[spool.FrameLen:])
			if err != nil || string(back.Wire) != string(c.Wire) || back.Size != c.Size {
				t.Fatalf("spool round trip changed the record: %v", err)
			}
			b.Add(&c, d, cfg.sensor) // may fail on garbage; must not panic
		}
		n := b.Len()
		for _, col := range [][]string{b.Rows().QName, b.Rows().QType, b.Rows().RCode, b.Rows().Sensor} {
			if len(col) != n {
				t.Fatalf("columns out of step: %d vs %d", len(col), n)
			}
		}
		if len(b.Rows().Answer.Name) != n || len(b.Rows().Authority.Data) != n || len(b.Caps) != n {
			t.Fatalf("sections out of step")
		}
		b.Reset(0) // hand the slots back
	})
}
