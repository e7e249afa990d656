package record

import (
	"net/netip"
	"testing"
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

// TestPackWireBuffers: a packed message lands in the smallest pooled buffer it fits, a
// larger one in the packing buffer, one beyond that in the packer's own allocation, and
// the bytes are the packer's in every case.
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
		if err := c.PackWire(pack); err != nil {
			t.Fatal(err)
		}
		if string(c.Wire) != string(msg) {
			t.Errorf("%d bytes: the capture holds other bytes", tc.size)
		}
		gotCap := 0
		if c.pooled != nil {
			gotCap = cap(*c.pooled)
		}
		if gotCap != tc.wantCap {
			t.Errorf("%d bytes: pooled buffer of %d, want %d", tc.size, gotCap, tc.wantCap)
		}
		c.Release()
		if tc.wantCap != 0 && (c.Wire != nil || c.pooled != nil) {
			t.Errorf("%d bytes: Release kept the pooled buffer", tc.size)
		}
	}
}
