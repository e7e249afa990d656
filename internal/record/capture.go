package record

import (
	"net/netip"
	"sync"
	"time"
	"unsafe"
)

// Capture is everything the writer needs to turn one response into a row. It holds a
// private copy of the message in wire format because the *dns.Msg may be reused by the
// plugin that wrote it; decoding to text happens off the hot path.
type Capture struct {
	Wire      []byte
	Time      time.Time // when the response was written
	Elapsed   time.Duration
	Client    netip.Addr // already reduced per the clients option
	Server    string
	Transport string
	Size      uint32 // bytes sent to the client; 0 when the writer must compute it
	Compress  bool   // whether the client's copy was name-compressed (for size)

	pooled *[]byte // Wire's buffer when it came from a wire pool (CopyWire)
}

// wirePools hold the buffers of captured messages, in three sizes: most answers fit the
// smallest. A capture on the query path then costs a copy, not an allocation; the writer
// returns the buffer once the row is decoded (or written, with a spool) or dropped
// (Release). The queue's memory is mostly these buffers, so the sizes follow the answers:
// a typical one (a CNAME and a few addresses) is about 200 bytes uncompressed.
var wirePools = [...]struct {
	size int
	pool sync.Pool
}{{size: 256}, {size: 512}, {size: 4096}}

// packPool is the pool PackWire packs into: messages are packed before their size is known.
const packPool = 1

func getWire(i int) *[]byte {
	p := &wirePools[i]
	bp, _ := p.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, p.size)
		bp = &b
	}
	return bp
}

// CopyWire sets c.Wire to a copy of wire, in a pooled buffer if it fits one.
func (c *Capture) CopyWire(wire []byte) {
	for i := range wirePools {
		if len(wire) > wirePools[i].size {
			continue
		}
		bp := getWire(i)
		c.Wire, c.pooled = append((*bp)[:0], wire...), bp
		return
	}
	c.Wire = append([]byte(nil), wire...)
}

// PackWire sets c.Wire to what pack writes into a pooled buffer, moved into a buffer of
// the smallest size when it fits there (a copy of a few hundred bytes, to halve what the
// queue holds). When the message does not fit, pack allocates one of its own (as
// miekg/dns's PackBuffer does), and that is kept instead: rare, and never wrong.
func (c *Capture) PackWire(pack func(buf []byte) ([]byte, error)) error {
	p := &wirePools[packPool]
	bp := getWire(packPool)
	wire, err := pack((*bp)[:p.size])
	if err != nil || len(wire) == 0 || unsafe.SliceData(wire) != unsafe.SliceData(*bp) {
		p.pool.Put(bp)
		c.Wire = wire
		return err
	}
	if len(wire) <= wirePools[0].size {
		small := getWire(0)
		c.Wire, c.pooled = append((*small)[:0], wire...), small
		p.pool.Put(bp)
		return nil
	}
	c.Wire, c.pooled = wire, bp
	return nil
}

// Release hands c's buffer back to its pool; c.Wire must not be read afterwards, by any
// copy of c. A capture not made by CopyWire is left alone.
func (c *Capture) Release() {
	bp := c.pooled
	if bp == nil {
		return
	}
	c.Wire, c.pooled = nil, nil
	for i := range wirePools {
		if p := &wirePools[i]; cap(*bp) == p.size {
			p.pool.Put(bp)
			return
		}
	}
}

// ClientsMode says how much of the client address is stored.
type ClientsMode int

const (
	ClientsOff ClientsMode = iota
	ClientsPrefix
	ClientsFull
)

// Reduce applies the mode: nothing, the /24 (IPv4) or /48 (IPv6) network, or the address.
func (m ClientsMode) Reduce(a netip.Addr) netip.Addr {
	switch m {
	case ClientsFull:
		return a
	case ClientsPrefix:
		bits := 48
		if a.Is4() {
			bits = 24
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return netip.Addr{}
		}
		return p.Addr()
	}
	return netip.Addr{}
}
