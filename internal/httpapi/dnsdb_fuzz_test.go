package httpapi

import (
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/schema"

	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

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
		{"lookup/rrset/name/*.example.org/A/example.org", "aggr=false&time_last_after=1&offset=1"},
		{"summarize/rrset/name/www.example.*", "aggr=false"},
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
		segs, err := DnsdbSegments(r)
		if err != nil {
			return
		}
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		d, err := ParseDNSDB(segs, v, now)
		if err != nil {
			switch err.(type) {
			case *param.Error, *OffsetError:
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
