package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"context"
	"net"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// BenchmarkCapture is the cost passivedns adds to a response in ServeDNS: the wrapper,
// the copy of the message and the enqueue. Compare with BenchmarkCaptureBaseline, the
// same chain without passivedns.
//
//   - writer: the writer's own loop takes the captures (decoding them into batches that a
//     sink discards), as in the resolver;
//   - polling-stand-in: a goroutine empties the queue every pollInterval as the writer
//     does, and only hands the buffers back: the capture alone;
//   - woken-per-answer: the same, but woken by each capture as it comes, as the writer
//     was before it polled the queue; the difference is the wake-up every answer paid.
func BenchmarkCapture(b *testing.B) {
	q, reply := recordtest.TypicalAnswer(b)
	next := test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return 0, w.WriteMsg(reply)
	})
	loop := func(b *testing.B, p *PassiveDNS) {
		p.Next = next
		w := newServerWriter()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			p.ServeDNS(ctx, w, q)
		}
	}
	b.Run("writer", func(b *testing.B) {
		cfg := config{queue: 1 << 16, batch: defaultBatch, flush: time.Second, sensor: "bench"}
		p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, discardSink{})}
		quit, done := make(chan struct{}), make(chan struct{})
		go p.writer.run(quit, done)
		defer func() { close(quit); <-done }()
		loop(b, p)
	})
	// The stand-ins only hand the buffers back: capture alone, without the writer's
	// decoding competing for the memory bus.
	standIn := func(b *testing.B, receive func(p *PassiveDNS, done chan struct{})) {
		cfg := config{queue: 1 << 16, batch: 1, sensor: "bench"}
		p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, nil)}
		done := make(chan struct{})
		go receive(p, done)
		defer close(done)
		loop(b, p)
	}
	release := func(p *PassiveDNS, q record.Queued) {
		p.writer.queuedBytes.Add(-int64(q.Bytes()))
		q.Drop()
	}
	var taken []record.Queued
	b.Run("polling-stand-in", func(b *testing.B) {
		standIn(b, func(p *PassiveDNS, done chan struct{}) {
			tick := time.NewTicker(pollInterval)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					// As the writer does: all that gathered, its bytes handed back a chunk
					// at a time and its slots in one go.
					taken = taken[:0]
					bytes := 0
					for q, ok := p.writer.queue.Take(); ok; q, ok = p.writer.queue.Take() {
						bytes += q.Bytes()
						if taken = append(taken, q); len(taken)%record.YieldChunk == 0 {
							p.writer.queuedBytes.Add(-int64(bytes))
							bytes = 0
						}
					}
					p.writer.queuedBytes.Add(-int64(bytes))
					record.DropQueued(taken)
				case <-done:
					return
				}
			}
		})
	})
	b.Run("woken-per-answer", func(b *testing.B) {
		standIn(b, func(p *PassiveDNS, done chan struct{}) {
			for {
				p.writer.idle.Store(true)
				select {
				case <-p.writer.wake:
					for q, ok := p.writer.queue.Take(); ok; q, ok = p.writer.queue.Take() {
						release(p, q)
					}
				case <-done:
					return
				}
			}
		})
	})
}

// discardSink takes every batch and keeps nothing, so the writer reuses its buffers.
type discardSink struct{}

func (discardSink) Prepare(context.Context) error              { return nil }
func (discardSink) Write(context.Context, *record.Batch) error { return nil }
func (discardSink) Ping(context.Context) error                 { return nil }
func (discardSink) Close() error                               { return nil }
func (discardSink) ConsumesBatches()                           {}

// serverWriter returns fixed addresses like the real server's writers do; the test
// package's ResponseWriter parses its addresses on every call, which would be counted.
type serverWriter struct {
	test.ResponseWriter
	remote net.Addr
}

func newServerWriter() *serverWriter {
	return &serverWriter{remote: &net.UDPAddr{IP: net.ParseIP("192.0.2.100"), Port: 40212}}
}

func (w *serverWriter) RemoteAddr() net.Addr { return w.remote }

// passthrough is a plugin that only calls the next one, as every plugin does: the
// baseline pays CoreDNS's own cost of a plugin in the chain.
type passthrough struct{ next plugin.Handler }

func (p passthrough) Name() string { return "passthrough" }
func (p passthrough) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	return plugin.NextOrFailure(p.Name(), p.next, ctx, w, r)
}

func BenchmarkCaptureBaseline(b *testing.B) {
	q, reply := recordtest.TypicalAnswer(b)
	next := passthrough{test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return 0, w.WriteMsg(reply)
	})}
	w := newServerWriter()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		next.ServeDNS(ctx, w, q)
	}
}
