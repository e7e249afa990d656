package passivedns

import (
	"github.com/passivedns/passivedns/internal/recordtest"

	"context"
	"net"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// BenchmarkCapture is the cost passivedns adds to a response in ServeDNS: the wrapper,
// the copy of the message and the enqueue. Compare with BenchmarkCaptureBaseline, the
// same chain without passivedns.
func BenchmarkCapture(b *testing.B) {
	q, reply := recordtest.TypicalAnswer(b)
	cfg := config{queue: 1 << 16, batch: 1, sensor: "bench"}
	p := &PassiveDNS{cfg: cfg, writer: newWriter(cfg, nil)}
	p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		return 0, w.WriteMsg(reply)
	})
	done := make(chan struct{})
	go func() { // stands in for the writer goroutine: empties the queue, returns the buffers
		for {
			select {
			case c := <-p.writer.queue:
				p.writer.queuedBytes.Add(-int64(len(c.Wire)))
				c.Release()
			case <-done:
				return
			}
		}
	}()
	defer close(done)
	w := newServerWriter()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.ServeDNS(ctx, w, q)
	}
}

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
