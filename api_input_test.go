package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAPIInputForms: the name and time forms analysts paste, what the answers say was
// searched, totals, and the hint for an address given as rdata.
func TestAPIInputForms(t *testing.T) {
	r := recordScenario(t)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	evil := c.get("/api/v1/name/evil.example.net")
	if evil.status != 200 || evil.header.Get("X-Searched-For") != "evil.example.net." || strings.Contains(evil.body, "searched_for") {
		t.Fatalf("plain name: %d %v %s", evil.status, evil.header, evil.body)
	}
	records := strings.TrimSuffix(evil.body, `{"done":true,"count":2}`+"\n")
	// A URL goes in one path segment, its slashes escaped.
	for _, in := range []string{"evil[.]example[.]net", "hxxp://evil.example.net/", "hxxps://EVIL(.)example.net:8443/x?y=1", "evil[dot]example.net"} {
		c.expect("/api/v1/name/"+url.PathEscape(in), 200, records+`{"done":true,"count":2,"searched_for":"evil.example.net."}`+"\n")
	}
	// A Unicode name is searched as its A-label (none recorded here).
	resp := c.get("/api/v1/name/b%C3%BCcher.example.net")
	if resp.status != 200 || resp.header.Get("X-Searched-For") != "xn--bcher-kva.example.net." ||
		resp.body != `{"done":true,"count":0,"searched_for":"xn--bcher-kva.example.net."}`+"\n" {
		t.Errorf("IDN: %d %v %s", resp.status, resp.header, resp.body)
	}
	if resp := c.get("/api/v1/ip/192.0.2.0/24"); resp.header.Get("X-Searched-For") != "192.0.2.0-192.0.2.255" {
		t.Errorf("ip: X-Searched-For %q", resp.header.Get("X-Searched-For"))
	}

	// New time forms on lists: dates, zoneless RFC 3339, relative days.
	c.expect("/api/v1/name/evil.example.net?from=2026-11-01&to=2026-11-05T23:00", 200, evil.body)
	c.expect("/api/v1/name/evil.example.net?from=-7d&to=now", 200, evil.body)
	c.expect("/api/v1/name/evil.example.net?from=2026-11-06", 200, `{"done":true,"count":0}`+"\n")

	// Totals: free when one page holds everything, a count query over a key range
	// otherwise, and said not to be counted for a trailing wildcard.
	c.expect("/api/v1/name/evil.example.net?total=true", 200, records+`{"done":true,"count":2,"total":2}`+"\n")
	first := c.get("/api/v1/name/*.example.net?total=true&limit=2")
	if !strings.Contains(first.body, `"count":2,"cursor":"`) || !strings.HasSuffix(first.body, `"total":9}`+"\n") {
		t.Errorf("total of a suffix wildcard: %s", first.body)
	}
	if all := c.get("/api/v1/name/*.example.net"); strings.Count(all.body, "\n") != 10 {
		t.Errorf("*.example.net has %d lines, the total above says 9 results:\n%s", strings.Count(all.body, "\n"), all.body)
	}
	pre := c.get("/api/v1/name/evil.example.*?total=true&limit=1")
	if !strings.HasSuffix(pre.body, `"total_note":"not counted: a trailing wildcard scans the table; page through the results"}`+"\n") {
		t.Errorf("total of a trailing wildcard: %s", pre.body)
	}
	if ip := c.get("/api/v1/ip/192.0.2.0/24?total=1&aliases=false&limit=1"); !strings.HasSuffix(ip.body, `"total":3}`+"\n") {
		t.Errorf("total of an address range: %s", ip.body)
	}

	// Bad input.
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/rdata/192.0.2.1", `{"error":"name: 192.0.2.1 is an address, not a name: addresses in record data are searched by /api/v1/ip/","parameter":"name","hint":"/api/v1/ip/192.0.2.1"}`},
		{"/api/v1/rdata/192.0.2.0,24", `{"error":"name: 192.0.2.0,24 is an address, not a name: addresses in record data are searched by /api/v1/ip/","parameter":"name","hint":"/api/v1/ip/192.0.2.0%2C24"}`},
		{"/api/v1/name/evil.example.net?total=maybe", `{"error":"total: must be true or false","parameter":"total"}`},
		{"/api/v1/name/evil.example.net?from=yesterday", `{"error":"from: not a time: use RFC 3339 (2026-11-03T10:00:00Z, UTC without a zone), a date (2026-12-01), epoch seconds, now, or negative seconds or a duration (-24h, -7d) before now","parameter":"from"}`},
		{"/api/v1/name/evil.example.net?from=-1y", `{"error":"from: not a time: use RFC 3339 (2026-11-03T10:00:00Z, UTC without a zone), a date (2026-12-01), epoch seconds, now, or negative seconds or a duration (-24h, -7d) before now","parameter":"from"}`},
		{"/api/v1/asof/evil.example.net?at=2026-13-01", `{"error":"at: not a time: use RFC 3339 (2026-11-03T10:00:00Z, UTC without a zone), a date (2026-12-01), epoch seconds, now, or negative seconds or a duration (-24h, -7d) before now","parameter":"at"}`},
		{"/api/v1/name/hxxp:%2F%2F", `{"error":"name: empty name","parameter":"name"}`},
		{"/api/v1/name/evil[.][.]example", `{"error":"name: not a domain name in presentation format","parameter":"name"}`},
		{"/api/v1/clients/evil.example.net", `{"error":"client addresses are not recorded (clients off): set clients prefix or full to record who asked"}`},
	} {
		resp := c.get(tc.path)
		if resp.status/100 != 4 || resp.body != tc.body+"\n" {
			t.Errorf("GET %s: %d %s, want 4xx %s", tc.path, resp.status, resp.body, tc.body)
		}
	}
	// DNSDB keeps its own time forms.
	if resp := c.get("/dnsdb/v2/lookup/rrset/name/evil.example.net?time_first_after=-1d"); resp.status != 400 {
		t.Errorf("DNSDB took -1d: %d %s", resp.status, resp.body)
	}
}

// TestAPIAsOfMilliseconds: an instant with milliseconds is kept end to end: it decides
// which answer counts (one later in the same second does not) and whether its TTL covers
// the instant, and at and valid_until keep their milliseconds.
func TestAPIAsOfMilliseconds(t *testing.T) {
	r := newRecording(t)
	r.set("ms.example.net.", dns.TypeA, dns.RcodeSuccess, "ms.example.net. 300 IN A 192.0.2.1")
	r.ask(scT0.Add(26500*time.Millisecond), "ms.example.net.", dns.TypeA)
	r.flush()
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	ans := func(covers string) string {
		return `{"qtype":"A","rcode":"NOERROR","answered_at":"2026-11-03T10:00:26.500Z","ttl":300,"valid_until":"2026-11-03T10:05:26.500Z","covers":` + covers +
			`,"chain":["ms.example.net."],"final":[{"rrname":"ms.example.net.","rrtype":"A","ttl":300,"rdata":"192.0.2.1"}],"records":[{"rrname":"ms.example.net.","rrtype":"A","ttl":300,"rdata":"192.0.2.1"}]}`
	}
	c.expect("/api/v1/asof/ms.example.net?at=2026-11-03T10:00:26.900Z", 200, `{"name":"ms.example.net.","at":"2026-11-03T10:00:26.900Z","answers":[`+ans("true")+"]}\n")
	c.expect("/api/v1/asof/ms.example.net?at=2026-11-03T10:00:26.400Z", 200, `{"name":"ms.example.net.","at":"2026-11-03T10:00:26.400Z","answers":[]}`+"\n")
	c.expect("/api/v1/asof/ms.example.net?at=2026-11-03T10:05:26.500", 200, `{"name":"ms.example.net.","at":"2026-11-03T10:05:26.500Z","answers":[`+ans("true")+"]}\n")
	c.expect("/api/v1/asof/ms.example.net?at=2026-11-03T10:05:26.501Z", 200, `{"name":"ms.example.net.","at":"2026-11-03T10:05:26.501Z","answers":[`+ans("false")+"]}\n")
	c.expect("/api/v1/asof/ms[.]example[.]net?at=2026-11-03T10:05:27Z", 200, `{"name":"ms.example.net.","at":"2026-11-03T10:05:27Z","answers":[`+ans("false")+"]}\n")
}

// TestOpenAPIAnalyst: the endpoints and parameters added for analysts are documented.
func TestOpenAPIAnalyst(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"/api/v1/clients/{name}":   {"name", "rrtype", "from", "to", "limit", "cursor"},
		"/api/v1/client/{address}": {"address", "rrtype", "from", "to", "limit", "cursor"},
		"/api/v1/name/{name}":      {"total"},
		"/api/v1/ip/{ip}":          {"total"},
		"/api/v1/rdata/{name}":     {"total"},
		"/api/v1/negative/{name}":  {"total"},
		"/api/v1/status":           nil,
	}
	for path, params := range want {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("openapi.json lacks GET %s", path)
			continue
		}
		have := map[string]bool{}
		for _, p := range op.Parameters {
			have[p.Name] = true
		}
		for _, p := range params {
			if !have[p] {
				t.Errorf("openapi.json: %s lacks parameter %s", path, p)
			}
		}
	}
	for _, path := range []string{"/api/v1/clients/{name}", "/api/v1/client/{address}"} {
		if doc.Paths[path]["get"].Responses["403"] == nil || doc.Paths[path]["get"].Responses["404"] == nil {
			t.Errorf("openapi.json: %s lacks the 403 (not a clients key) or 404 (clients off) answer", path)
		}
	}
}
