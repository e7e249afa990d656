package record

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Queued is a capture as the writer's queue holds it: plain values only (the wire copy by
// its slot number, the server and transport by number), so a queue of tens of thousands
// of them is memory the garbage collector allocates without pointers and never scans.
type Queued struct {
	time      int64 // Unix nanoseconds
	elapsed   int64
	client    [16]byte
	slot      uint32
	n         uint32 // wire length
	size      uint32
	server    uint16
	transport uint16
	clientLen uint8 // 0: no client, 4 or 16
	compress  bool
}

// Queue moves c into its queued form; the queued capture owns c's slot (a wire that was
// the caller's is copied into one). Release the result's Capture, or Drop it.
func (c *Capture) Queue() Queued {
	if c.slot == 0 {
		c.CopyWire(c.Wire)
	}
	q := Queued{time: c.Time.UnixNano(), elapsed: int64(c.Elapsed), slot: c.slot, n: uint32(len(c.Wire)),
		size: c.Size, server: internText(c.Server), transport: internText(c.Transport), compress: c.Compress}
	if c.Client.IsValid() {
		q.client, q.clientLen = c.Client.As16(), 16
		if c.Client.Is4() {
			q.clientLen = 4
		}
	}
	c.Wire, c.slot = nil, 0
	return q
}

// Capture returns the capture q holds; its Release hands the slot back.
func (q *Queued) Capture() Capture {
	c := Capture{Wire: slotBytes(q.slot, int(q.n)), Time: time.Unix(0, q.time), Elapsed: time.Duration(q.elapsed),
		Server: internedText(q.server), Transport: internedText(q.transport), Size: q.size, Compress: q.compress, slot: q.slot}
	switch q.clientLen {
	case 4:
		c.Client = netip.AddrFrom16(q.client).Unmap()
	case 16:
		c.Client = netip.AddrFrom16(q.client)
	}
	return c
}

// Bytes is the memory q's wire takes while queued: its slot's size.
func (q *Queued) Bytes() int { return classBytes(int(q.n)) }

// Drop hands back the slot of a capture that will not be decoded.
func (q *Queued) Drop() {
	if q.slot != 0 {
		freeSlot(q.slot)
		q.slot = 0
	}
}

// The interned texts: server addresses and transports, a handful in a process. Numbers are
// never reused; past maxInterned distinct texts (not a real configuration) new ones are
// stored as "".
const maxInterned = 1 << 12

var interned struct {
	mu    sync.Mutex
	ids   map[string]uint16
	texts atomic.Pointer[[]string] // by number; copied on growth, read without the lock
}

func internText(s string) uint16 {
	if s == "" {
		return 0
	}
	if p := interned.texts.Load(); p != nil {
		// The few texts of a process are compared in place: the same string each time, so
		// the comparison is of lengths and pointers.
		for i, t := range *p {
			if t == s {
				return uint16(i)
			}
			if i >= 16 {
				break
			}
		}
	}
	interned.mu.Lock()
	defer interned.mu.Unlock()
	if id, ok := interned.ids[s]; ok {
		return id
	}
	texts := []string{""}
	if p := interned.texts.Load(); p != nil {
		texts = *p
	}
	if len(texts) >= maxInterned {
		return 0
	}
	if interned.ids == nil {
		interned.ids = map[string]uint16{}
	}
	id := uint16(len(texts))
	texts = append(texts[:len(texts):len(texts)], s)
	interned.ids[s] = id
	interned.texts.Store(&texts)
	return id
}

func internedText(id uint16) string {
	if id == 0 {
		return ""
	}
	return (*interned.texts.Load())[id]
}
