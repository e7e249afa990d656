package param

import "testing"

// TestMappedPrefix: an IPv4-mapped address takes an IPv6 prefix length.
func TestMappedPrefix(t *testing.T) {
	for _, tc := range []struct{ in, lo, hi string }{
		{"::ffff:1.2.3.4/96", "::ffff:0.0.0.0", "::ffff:255.255.255.255"},
		{"::ffff:1.2.3.4/120", "::ffff:1.2.3.0", "::ffff:1.2.3.255"},
		{"::ffff:1.2.3.4/128", "::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"::ffff:1.2.3.4/24", "::ffff:1.2.3.0", "::ffff:1.2.3.255"}, // an IPv4 length, as before
		{"::ffff:1.2.3.4/64", "::", "::ffff:ffff:ffff:ffff"},
	} {
		s, err := ParseIP("ip", tc.in)
		if err != nil || s.Lo.String() != tc.lo || s.Hi.String() != tc.hi {
			t.Errorf("%s: %v-%v %v, want %s-%s", tc.in, s.Lo, s.Hi, err, tc.lo, tc.hi)
		}
	}
	for _, bad := range []string{"::ffff:1.2.3.4/129", "::ffff:1.2.3.4/+96", "1.2.3.4/33"} {
		if _, err := ParseIP("ip", bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
