package param

import (
	"github.com/passivedns/passivedns/internal/history"

	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Fuzz targets for the API's parameter parsers. The seed corpus is in
// testdata/fuzz/<target>/; run one with, for example,
//
//	go test -run - -fuzz FuzzParseName -fuzztime 30s .

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"www.example.org", "*.example.org", "www.example.*", "WwW.Example.ORG.", `a\.b.example.org`, `\000\255.x`,
		"b\xc3\xbccher.example", "x')--.example.net", "*", "*.", ".", "..", "a..b", `\`, `a\0`, strings.Repeat("a.", 200)} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wildcards bool) {
		n, err := ParseName("name", s, wildcards)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if !strings.HasSuffix(n.Name, ".") {
			t.Fatalf("%q: %q is not fully qualified", s, n.Name)
		}
		if !wildcards && n.Kind != history.NameExact {
			t.Fatalf("%q: a wildcard where none is allowed", s)
		}
		for i := 0; i < len(n.Name); i++ {
			if c := n.Name[i]; c < 0x20 || c >= 0x7f || 'A' <= c && c <= 'Z' {
				t.Fatalf("%q: parsed %q holds byte %#x", s, n.Name, c)
			}
		}
		// Canonical: parsing the result again gives the same (except for a literal "*"
		// label at either end, which reads back as a wildcard: \* is how to ask for it).
		labels := dns.SplitDomainName(n.Name)
		if len(labels) > 0 && (labels[0] == "*" || labels[len(labels)-1] == "*") {
			return
		}
		again, err := ParseName("name", n.String(), true)
		if err != nil || again != n {
			t.Fatalf("%q → %q → %q, %v", s, n.String(), again.String(), err)
		}
	})
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "192.0.2.0/24", "192.0.2.0,24", "192.0.2.1-192.0.2.9", "2001:db8::/32", "2001:db8::,32",
		"::ffff:192.0.2.1", "::/0", "0.0.0.0/0", "1.2.3.4/33", "fe80::1%eth0", "1-2", "192.0.2.9-192.0.2.1", "1.2.3.4/+8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := ParseIP("ip", s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if !ip.Lo.Is6() || !ip.Hi.Is6() || ip.Hi.Less(ip.Lo) {
			t.Fatalf("%q: range %v-%v", s, ip.Lo, ip.Hi)
		}
		if ip.Lo.Is4In6() != ip.Hi.Is4In6() {
			t.Fatalf("%q: range %v-%v crosses families", s, ip.Lo, ip.Hi)
		}
		if !LooksLikeIP(s) {
			t.Fatalf("%q parses as an address but looksLikeIP says no", s)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "1793700000", "-86400", "2026-11-03T10:00:00Z", "2026-11-03T10:00:00.5+02:00", "-24h", "1h", "-9999999999", "4294967296", "+5"} {
		f.Add(s, true)
	}
	now := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string, native bool) {
		tm, err := ParseTime("t", s, now, native)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if tm.Before(MinTime) || tm.After(MaxTime) || tm.Location() != time.UTC {
			t.Fatalf("%q → %v", s, tm)
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(Cursor{Query: 7, Key: []string{"a", "b", "c"}}.Encode())
	f.Add("e30")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseCursor("cursor", s, 7, 3)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if s != "" && len(key) != 3 {
			t.Fatalf("%q: key %q", s, key)
		}
	})
}

func FuzzParseVia(f *testing.F) {
	for _, s := range []string{"cname", "cname,ns,mx", "NS, MX", "mx", "", ",", "a", "cname,,ns", strings.Repeat("ns,", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		via, err := ParseVia("via", []string{s})
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Param != "via" {
				t.Fatalf("%q: error %v of type %T", s, err, err)
			}
			return
		}
		if via == 0 || via&^(history.ViaCNAME|history.ViaNS|history.ViaMX) != 0 {
			t.Fatalf("%q: via %b", s, via)
		}
		// Every accepted list names each of its types: reading them back gives the same.
		var names []string
		for _, n := range []struct {
			v    history.Via
			name string
		}{{history.ViaCNAME, "cname"}, {history.ViaNS, "ns"}, {history.ViaMX, "mx"}} {
			if via&n.v != 0 {
				names = append(names, n.name)
			}
			if via&n.v != 0 != strings.Contains(strings.ToLower(s), n.name) {
				t.Fatalf("%q: via %b", s, via)
			}
		}
		if again, err := ParseVia("via", []string{strings.Join(names, ",")}); err != nil || again != via {
			t.Fatalf("%q → %v → %b, %v", s, names, again, err)
		}
	})
}
