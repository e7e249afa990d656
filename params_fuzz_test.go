package passivedns

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/schema"

	"net/http"
	"net/url"
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
		n, err := param.ParseName("name", s, wildcards)
		if err != nil {
			if _, ok := err.(*param.Error); !ok {
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
		again, err := param.ParseName("name", n.String(), true)
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
		ip, err := param.ParseIP("ip", s)
		if err != nil {
			if _, ok := err.(*param.Error); !ok {
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
		if !param.LooksLikeIP(s) {
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
		tm, err := param.ParseTime("t", s, now, native)
		if err != nil {
			if _, ok := err.(*param.Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if tm.Before(param.MinTime) || tm.After(param.MaxTime) || tm.Location() != time.UTC {
			t.Fatalf("%q → %v", s, tm)
		}
	})
}

// FuzzDNSDBRequest parses a DNSDB path and query and renders its SQL: any input is a
// request or a parameter error, and the SQL never contains request text, only
// placeholders, one per argument.
func FuzzDNSDBRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"lookup/rrset/name/www.example.org/A/example.org", "limit=5&offset=2"},
		{"summarize/rrset/name/*.example.org", "time_first_before=-86400&max_count=3"},
		{"lookup/rdata/ip/192.0.2.0,24", "time_last_after=1793700000&humantime=true"},
		{"lookup/rdata/ip/2001:db8::1-2001:db8::ff", ""},
		{"lookup/rdata/name/mail.example.org/MX", "aggr=false"},
		{"lookup/rrset/raw/0377777706676f6f676c6503636f6d00/ANY-DNSSEC", "aggr=false"},
		{"lookup/rrset/name/x%27%29%3B--.example", "limit=0"},
	} {
		f.Add(s[0], s[1])
	}
	legacy := schema.Schema{Flavor: schema.DetectFlavor("18.16.1"), DB: "passivedns"}
	modern := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "passivedns"}
	now := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, path, query string) {
		r, err := http.NewRequest("GET", "http://x/dnsdb/v2/"+path+"?"+query, nil)
		if err != nil {
			return
		}
		segs, err := httpapi.DnsdbSegments(r)
		if err != nil {
			return
		}
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		d, err := httpapi.ParseDNSDB(segs, v, now)
		if err != nil {
			switch err.(type) {
			case *param.Error, *httpapi.OffsetError:
				return
			}
			t.Fatalf("%q ? %q: error of type %T", path, query, err)
		}
		for _, s := range []schema.Schema{legacy, modern} {
			sql, args := d.Q.Build(s)
			if n := strings.Count(sql, "?"); n != len(args) {
				t.Fatalf("%q: %d placeholders for %d arguments:\n%s", path, n, len(args), sql)
			}
			// Values travel as arguments: no literal of any kind is in the text.
			if strings.ContainsAny(sql, "'\"\\;") {
				t.Fatalf("%q: a literal in the SQL:\n%s", path, sql)
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(param.Cursor{Query: 7, Key: []string{"a", "b", "c"}}.Encode())
	f.Add("e30")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := param.ParseCursor("cursor", s, 7, 3)
		if err != nil {
			if _, ok := err.(*param.Error); !ok {
				t.Fatalf("%q: error of type %T", s, err)
			}
			return
		}
		if s != "" && len(key) != 3 {
			t.Fatalf("%q: key %q", s, key)
		}
	})
}
