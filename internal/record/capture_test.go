package record

import (
	"net/netip"
	"testing"
	"time"
)

func TestClientsMode(t *testing.T) {
	tests := []struct {
		mode ClientsMode
		in   string
		want string
	}{
		{ClientsOff, "10.240.0.1", "invalid IP"},
		{ClientsPrefix, "10.240.0.1", "10.240.0.0"},
		{ClientsFull, "10.240.0.1", "10.240.0.1"},
		{ClientsPrefix, "2001:db8:1:2:3::4", "2001:db8:1::"},
		{ClientsFull, "2001:db8:1:2:3::4", "2001:db8:1:2:3::4"},
	}
	for _, tc := range tests {
		if got := tc.mode.Reduce(netip.MustParseAddr(tc.in)).String(); got != tc.want {
			t.Errorf("reduce(%d, %s) = %s, want %s", tc.mode, tc.in, got, tc.want)
		}
	}
}

// TestPackWireBuffers: a packed message lands in the smallest slot it fits, a larger one in
// the packing slot, one beyond that in the packer's own allocation, and the bytes are the
// packer's in every case; queued and taken back, the capture is the same, in a slot.
func TestPackWireBuffers(t *testing.T) {
	tests := []struct {
		size    int
		wantCap int // 0: not pooled
	}{
		{12, 256}, {256, 256}, {257, 512}, {512, 512}, {513, 0}, {3000, 0},
	}
	for _, tc := range tests {
		msg := make([]byte, tc.size)
		for i := range msg {
			msg[i] = byte(i)
		}
		pack := func(buf []byte) ([]byte, error) {
			if len(buf) < len(msg) {
				buf = make([]byte, len(msg)) // as miekg/dns's PackBuffer does
			}
			return buf[:copy(buf, msg)], nil
		}
		var c Capture
		if err := c.PackWire(new([PackSize]byte), pack); err != nil {
			t.Fatal(err)
		}
		if string(c.Wire) != string(msg) {
			t.Errorf("%d bytes: the capture holds other bytes", tc.size)
		}
		gotCap := 0
		if c.slot != 0 {
			gotCap = slotSizes[c.slot>>classShift] // the class its number carries
		}
		if gotCap != tc.wantCap || (c.slot != 0) != (cap(c.Wire) == gotCap) {
			t.Errorf("%d bytes: slot of %d (wire capacity %d), want %d", tc.size, gotCap, cap(c.Wire), tc.wantCap)
		}
		c.Time, c.Client, c.Server, c.Transport = time.Unix(1700000000, 5), netip.MustParseAddr("192.0.2.1"), "dns://:53", "udp"
		want := c
		want.Wire = append([]byte(nil), c.Wire...)
		q := c.Queue()
		if c.Wire != nil || c.slot != 0 {
			t.Errorf("%d bytes: the capture kept its wire after Queue", tc.size)
		}
		back := q.Capture()
		if back.slot == 0 || string(back.Wire) != string(want.Wire) || !back.Time.Equal(want.Time) || back.Client != want.Client ||
			back.Server != want.Server || back.Transport != want.Transport {
			t.Errorf("%d bytes: queued and taken back as %+v, want %+v", tc.size, back, want)
		}
		back.Release()
		if back.Wire != nil || back.slot != 0 {
			t.Errorf("%d bytes: Release kept the slot", tc.size)
		}
	}
}

// TestSlots: slots handed back are reused, every class keeps its bytes apart, and a message
// over the largest class gets a buffer of its own that is forgotten when released.
func TestSlots(t *testing.T) {
	var ids []uint32
	for _, n := range []int{1, 256, 257, 512, 513, 4096, 4097, 70000} {
		id, buf := newSlot(n)
		if cap(buf) < n || len(buf) != 0 {
			t.Fatalf("%d bytes: buffer len %d cap %d", n, len(buf), cap(buf))
		}
		buf = append(buf, make([]byte, n)...)
		for i := range buf {
			buf[i] = byte(n)
		}
		ids = append(ids, id)
		if got := slotBytes(id, n); len(got) != n || got[0] != byte(n) || got[n-1] != byte(n) {
			t.Fatalf("%d bytes: slot reads back other bytes", n)
		}
	}
	for i, n := range []int{1, 256, 257, 512, 513, 4096, 4097, 70000} {
		if got := slotBytes(ids[i], n); got[0] != byte(n) || got[n-1] != byte(n) {
			t.Errorf("%d bytes: overwritten by a later slot", n)
		}
	}
	for _, id := range ids {
		freeSlot(id)
	}
	again, _ := newSlot(100)
	defer freeSlot(again)
	if again != ids[1] && again != ids[0] {
		t.Errorf("a free small slot was not reused: got %#x, freed %#x and %#x", again, ids[0], ids[1])
	}
	bigSlots.mu.Lock()
	left := len(bigSlots.m)
	bigSlots.mu.Unlock()
	if left != 0 {
		t.Errorf("%d large buffers kept after release", left)
	}
}

// TestQueuedBytes: the bytes a capture is counted for before it is queued are those its
// queued form reports, for a wire in a slot and for one the caller holds, in every class.
func TestQueuedBytes(t *testing.T) {
	for _, n := range []int{1, 255, 256, 257, 512, 513, 4096, 4097, 65535} {
		wire := make([]byte, n)
		var inSlot Capture
		inSlot.CopyWire(wire)
		for name, c := range map[string]Capture{"caller's": {Wire: wire}, "slot": inSlot} {
			before := c.QueuedBytes()
			q := c.Queue()
			if got := q.Bytes(); got != before || got < n {
				t.Errorf("%d bytes, %s wire: QueuedBytes %d, Queued.Bytes %d", n, name, before, got)
			}
			q.Drop()
		}
	}
}
