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
