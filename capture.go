package passivedns

import (
	"net/netip"
	"time"
)

// capture is everything the writer needs to turn one response into a row. It holds a
// private copy of the message in wire format because the *dns.Msg may be reused by the
// plugin that wrote it; decoding to text happens off the hot path.
type capture struct {
	wire      []byte
	time      time.Time // when the response was written
	elapsed   time.Duration
	client    netip.Addr // already reduced per the clients option
	server    string
	transport string
	size      uint32 // bytes sent to the client; 0 when the writer must compute it
	compress  bool   // whether the client's copy was name-compressed (for size)
}

// clientsMode says how much of the client address is stored.
type clientsMode int

const (
	clientsOff clientsMode = iota
	clientsPrefix
	clientsFull
)

// reduce applies the mode: nothing, the /24 (IPv4) or /48 (IPv6) network, or the address.
func (m clientsMode) reduce(a netip.Addr) netip.Addr {
	switch m {
	case clientsFull:
		return a
	case clientsPrefix:
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
