package record

import (
	"net/netip"
	"time"
)

// capture is everything the writer needs to turn one response into a row. It holds a
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
}

// clientsMode says how much of the client address is stored.
type ClientsMode int

const (
	ClientsOff ClientsMode = iota
	ClientsPrefix
	ClientsFull
)

// reduce applies the mode: nothing, the /24 (IPv4) or /48 (IPv6) network, or the address.
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
