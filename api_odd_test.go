package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Hostile names and data go in through the recording path and come back byte for byte,
// in canonical presentation form, through every protocol of the API.
func TestAPIOddNamesByteExact(t *testing.T) {
	long := strings.Repeat(strings.Repeat("x", 63)+".", 3) + strings.Repeat("y", 61) + ".example.org."
	long = long[len(long)-254:] // 255 octets on the wire
	long = strings.TrimLeft(long, ".")
	bigTXT := make([]string, 0, 100)
	for i := range 100 {
		bigTXT = append(bigTXT, `"`+strings.Repeat(string(rune('a'+i%26)), 250)+`"`)
	}
	tests := []struct {
		owner string // as recorded (presentation format)
		rr    string // record data, zone file text
		rtype uint16
		want  string // rdata as stored and served
	}{
		{`a\.b.example.org.`, "192.0.2.1", dns.TypeA, "192.0.2.1"},
		{`\000\255\"q\\.example.org.`, "192.0.2.2", dns.TypeA, "192.0.2.2"},
		{`select.from.where.example.org.`, `"'; DROP TABLE responses; --" "\\" "caf\195\169" "\000\255"`, dns.TypeTXT,
			`"'; DROP TABLE responses; --" "\\" "caf\195\169" "\000\255"`},
		{long, "192.0.2.3", dns.TypeA, "192.0.2.3"},
		{`big.example.org.`, strings.Join(bigTXT, " "), dns.TypeTXT, strings.Join(bigTXT, " ")},
	}
	r := newRecording(t)
	for _, tc := range tests {
		r.set(tc.owner, tc.rtype, dns.RcodeSuccess, tc.owner+" 300 IN "+dns.TypeToString[tc.rtype]+" "+tc.rr)
		r.ask(scT0, tc.owner, tc.rtype)
	}
	r.flush()
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)

	for _, tc := range tests {
		p := url.PathEscape(tc.owner)
		for _, path := range []string{"/api/v1/name/" + p, "/dnsdb/v2/lookup/rrset/name/" + p, "/pdns/query/" + p} {
			resp := c.get(path)
			if resp.status != 200 {
				t.Errorf("GET %s: %d %.300s", path, resp.status, resp.body)
				continue
			}
			found := false
			for _, line := range strings.Split(strings.TrimSpace(resp.body), "\n") {
				var obj struct {
					Obj    *json.RawMessage `json:"obj"`
					RRName string           `json:"rrname"`
					RData  json.RawMessage  `json:"rdata"`
				}
				if err := json.Unmarshal([]byte(line), &obj); err != nil {
					t.Fatalf("GET %s: not JSON: %v: %.200s", path, err, line)
				}
				if obj.Obj != nil { // DNSDB's SAF framing
					if err := json.Unmarshal(*obj.Obj, &obj); err != nil {
						t.Fatal(err)
					}
				}
				if obj.RRName == "" {
					continue
				}
				var data []string
				if err := json.Unmarshal(obj.RData, &data); err != nil {
					var one string
					if err := json.Unmarshal(obj.RData, &one); err != nil {
						t.Fatalf("GET %s: rdata %s", path, obj.RData)
					}
					data = []string{one}
				}
				if obj.RRName == tc.owner && len(data) == 1 && data[0] == tc.want {
					found = true
				} else {
					t.Errorf("GET %s: got %q %.80q, want %q %.80q", path, obj.RRName, data, tc.owner, tc.want)
				}
			}
			if !found {
				t.Errorf("GET %s: %q not found in %.300s", path, tc.owner, resp.body)
			}
		}
	}
}
