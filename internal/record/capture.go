package record

import (
	"net/netip"
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

	slot uint32 // the slab slot Wire lies in (see slab.go); 0 when Wire is the caller's
}

// CopyWire sets c.Wire to a copy of wire, in a slot of its own.
func (c *Capture) CopyWire(wire []byte) {
	id, buf := newSlot(len(wire))
	c.Wire, c.slot = append(buf, wire...), id
}

// PackSize is the packing buffer PackWire wants: the EDNS size most answers stay within.
const PackSize = 512

// PackWire sets c.Wire to what pack writes into scratch (of PackSize octets, the caller's
// to reuse once PackWire returns), copied into a slot of the smallest size it fits. When
// the message does not fit, pack allocates a buffer of its own (as miekg/dns's PackBuffer
// does), and that is kept instead: rare, and never wrong.
func (c *Capture) PackWire(scratch *[PackSize]byte, pack func(buf []byte) ([]byte, error)) error {
	wire, err := pack(scratch[:])
	if err != nil || len(wire) == 0 || unsafe.SliceData(wire) != &scratch[0] {
		c.Wire = wire
		return err
	}
	c.CopyWire(wire)
	return nil
}

// QueuedBytes is what Queued.Bytes of c.Queue() will be, known before c is queued: the
// size of c's slot, or of the slot Queue copies the wire into.
func (c *Capture) QueuedBytes() int { return classBytes(len(c.Wire)) }

// Release hands c's slot back; c.Wire must not be read afterwards, by any copy of c. A
// capture whose wire is the caller's is left alone.
func (c *Capture) Release() {
	if c.slot == 0 {
		return
	}
	freeSlot(c.slot)
	c.Wire, c.slot = nil, 0
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
