package watch

import "testing"

func TestMatch(t *testing.T) {
	ws := []Watch{}
	for _, w := range [][2]string{{"name", "*.example.com"}, {"name", "*paypa1*"}, {"ip", "198.51.100.0/24"}, {"ip", "2001:db8::1"}, {"rdata", "*.evil.net"}} {
		x, err := Parse(w[0], w[1])
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, x)
	}
	tests := []struct {
		t    Tuple
		want int
	}{
		{Tuple{"www.example.com.", "A", "192.0.2.1"}, 0},
		{Tuple{"a.b.example.com.", "TXT", "x"}, 0},
		{Tuple{"example.com.", "A", "192.0.2.1"}, -1}, // *. is below the domain, as in the API
		{Tuple{"notexample.com.", "A", "192.0.2.1"}, -1},
		{Tuple{"login-paypa1.example.org.", "A", "192.0.2.1"}, 1},
		{Tuple{"x.org.", "A", "198.51.100.77"}, 2},
		{Tuple{"x.org.", "A", "198.51.101.77"}, -1},
		{Tuple{"x.org.", "AAAA", "2001:db8::1"}, 3},
		{Tuple{"x.org.", "AAAA", "::ffff:198.51.100.1"}, 2},
		{Tuple{"x.org.", "TXT", "198.51.100.1"}, -1}, // only address records hold addresses
		{Tuple{"x.org.", "CNAME", "cdn.evil.net."}, 4},
		{Tuple{"x.org.", "MX", "10 mail.evil.net."}, 4},
		{Tuple{"x.org.", "SRV", "0 5 443 sip.evil.net."}, 4},
		{Tuple{"x.org.", "TXT", "cdn.evil.net."}, -1},
		{Tuple{"x.org.", "NS", "evil.net."}, -1},
	}
	for _, tc := range tests {
		if got := match(ws, tc.t); got != tc.want {
			t.Errorf("%v: watch %d, want %d", tc.t, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, bad := range [][2]string{{"name", "*"}, {"name", "*.*"}, {"name", ""}, {"name", "b\xc3\xbccher.example"}, {"name", "a b"},
		{"ip", "300.1.2.3"}, {"ip", "fe80::1%eth0"}, {"ip", "example.com"}, {"host", "x"}} {
		if w, err := Parse(bad[0], bad[1]); err == nil {
			t.Errorf("%q %q: parsed as %v", bad[0], bad[1], w)
		}
	}
	for _, tc := range [][3]string{{"name", "Evil.Example.COM", "name evil.example.com."}, {"ip", "192.0.2.7/24", "ip 192.0.2.0/24"},
		{"ip", "::ffff:192.0.2.7", "ip 192.0.2.7/32"}, {"rdata", "ns*.evil.net.", "rdata ns*.evil.net."}} {
		w, err := Parse(tc[0], tc[1])
		if err != nil || w.String() != tc[2] {
			t.Errorf("%q %q: %v %v, want %s", tc[0], tc[1], w, err, tc[2])
		}
	}
}
