package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/wire"

	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// recorder wraps the client's ResponseWriter. It writes to the client first and only then
// captures a copy of what was written, so recording never delays an answer.
type recorder struct {
	dns.ResponseWriter
	p       *PassiveDNS
	start   time.Duration // record.Mono at the query
	server  string
	written bool
	// scratch is where a message is packed before its copy into a slot; it stays with
	// the pooled recorder, so the query path takes no buffer from a pool of its own.
	scratch *[record.PackSize]byte
}

// WriteMsg implements dns.ResponseWriter.
func (r *recorder) WriteMsg(m *dns.Msg) error {
	if err := r.ResponseWriter.WriteMsg(m); err != nil {
		return err // the client did not receive it
	}
	r.written = true
	r.p.captureMsg(r, m)
	return nil
}

// Write implements dns.ResponseWriter; some plugins write packed messages.
func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	if err != nil {
		return n, err
	}
	r.written = true
	r.p.captureWire(r, b)
	return n, nil
}

// captureMsg enqueues a copy of m, packed without compression (the size stored is still
// the compressed one the client got, see record.Capture.Compress).
func (p *PassiveDNS) captureMsg(r *recorder, m *dns.Msg) {
	// It is packed into the recorder's buffer and copied into a slot that the writer hands back
	// once the row is decoded: by wire.AppendMsg for the common answer (the library's
	// packer spends about 400 ns on escapes in names), else by miekg/dns on a shallow
	// copy, which packs without compression (no compression map, no garbage) while
	// leaving the caller's message untouched.
	c := p.newCapture(r)
	if err := c.PackWire(r.scratch, func(buf []byte) ([]byte, error) {
		if w, ok := wire.AppendMsg(buf[:0], m); ok {
			return w, nil
		}
		uncompressed := *m
		uncompressed.Compress = false
		return uncompressed.PackBuffer(buf)
	}); err != nil {
		c.Release()
		p.writer.drop(dropEncode, 1, err)
		return
	}
	c.Compress = m.Compress
	p.writer.push(&c)
}

// captureWire enqueues a copy of a response the next plugin wrote as bytes.
func (p *PassiveDNS) captureWire(r *recorder, b []byte) {
	c := p.newCapture(r)
	c.CopyWire(b)
	c.Size = uint32(len(b))
	p.writer.push(&c)
}

func (p *PassiveDNS) newCapture(r *recorder) record.Capture {
	// One clock reading per instant, the monotonic one (record.Mono says why).
	now := record.Mono()
	remote := r.ResponseWriter.RemoteAddr()
	return record.Capture{
		Time:      record.WallTime(now),
		Elapsed:   now - r.start,
		Client:    p.cfg.clients.Reduce(remoteIP(remote)),
		Server:    r.server,
		Transport: transport(r.server, remote),
	}
}

func remoteIP(a net.Addr) netip.Addr {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.TCPAddr:
		ip = v.IP
	default:
		return netip.Addr{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

// transport names the protocol the client used, as CoreDNS knows it: the scheme of the
// server block's address, with plain DNS split into udp and tcp.
func transport(server string, remote net.Addr) string {
	scheme, _, found := strings.Cut(server, "://")
	if !found || scheme == "dns" {
		if _, ok := remote.(*net.TCPAddr); ok {
			return "tcp"
		}
		return "udp"
	}
	return scheme
}
