// Package passivedns is a CoreDNS plugin that records every answer the server writes to
// a client into ClickHouse, as a raw log and as passive DNS history.
package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"

	"context"
	"sync"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"

	"github.com/miekg/dns"
)

// PassiveDNS is the plugin handler. The heavy lifting (decoding, batching, inserting)
// happens in its writer's goroutine, never in ServeDNS.
type PassiveDNS struct {
	Next plugin.Handler

	cfg    config
	writer *writer
}

// ServeDNS implements plugin.Handler.
func (p *PassiveDNS) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	rec := recorders.Get().(*recorder)
	*rec = recorder{ResponseWriter: w, p: p, start: record.Mono(), server: metrics.WithServer(ctx), scratch: rec.scratch}
	rc, err := plugin.NextOrFailure(p.Name(), p.Next, ctx, rec, r)
	if !rec.written && !plugin.ClientWrite(rc) {
		// The server itself answers with this rcode after we return (dnsserver's error
		// path), to the unwrapped writer; record what the client is about to receive.
		m := new(dns.Msg)
		m.SetRcode(r, rc)
		p.captureMsg(rec, m)
	}
	// Plugins answer before they return (the server writes the error answer itself, to
	// its own writer), so the wrapper is free again: reusing it saves an allocation per
	// query.
	*rec = recorder{scratch: rec.scratch}
	recorders.Put(rec)
	return rc, err
}

var recorders = sync.Pool{New: func() any { return &recorder{scratch: new([record.PackSize]byte)} }}

// Name implements plugin.Handler.
func (p *PassiveDNS) Name() string { return "passivedns" }

// Ready implements ready.Readiness. DNS must keep answering when ClickHouse is down, so
// passivedns never holds readiness back; degradation shows in the metrics instead.
func (p *PassiveDNS) Ready() bool { return true }
