package passivedns

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/httpapi"

	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Tests of format=csv on the native lists and of the pivot's depth, via and max_nodes,
// on the scenario and on a small graph of their own.

func TestAPICSV(t *testing.T) {
	r := recordScenario(t)
	// Data a spreadsheet would run as a formula, and a TXT with a comma and quotes.
	r.set("=cmd.example.net.", dns.TypeA, dns.RcodeSuccess, "=cmd.example.net. 300 IN A 192.0.2.99")
	r.ask(at(scT2, 10), "=cmd.example.net.", dns.TypeA)
	r.set("-x.example.net.", dns.TypeA, dns.RcodeSuccess, "-x.example.net. 300 IN CNAME =cmd.example.net.", "=cmd.example.net. 300 IN A 192.0.2.99")
	r.ask(at(scT2, 20), "-x.example.net.", dns.TypeA)
	r.set("txt.example.net.", dns.TypeTXT, dns.RcodeSuccess, `txt.example.net. 300 IN TXT "a,b" "=c"`)
	r.ask(at(scT2, 30), "txt.example.net.", dns.TypeTXT)
	r.flush()
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	crlf := func(ls ...string) string { return strings.Join(ls, "\r\n") + "\r\n" }
	tests := []struct {
		path, file, body, cursor string
		count                    int
	}{
		{"/api/v1/name/evil.example.net?format=csv", "passivedns-name-evil.example.net.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count",
			"evil.example.net.,A,192.0.2.1,2026-11-03T10:00:00Z,2026-11-03T10:01:00Z,2",
			"evil.example.net.,A,192.0.2.2,2026-11-04T10:00:00Z,2026-11-05T10:00:00Z,2"), "", 2},
		{"/api/v1/name/txt.example.net?format=csv", "passivedns-name-txt.example.net.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count",
			`txt.example.net.,TXT,"""a,b"" ""=c""",2026-11-05T10:00:30Z,2026-11-05T10:00:30Z,1`), "", 1},
		{"/api/v1/ip/192.0.2.99?format=csv", "passivedns-ip-192.0.2.99.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count,aliases",
			"'=cmd.example.net.,A,192.0.2.99,2026-11-05T10:00:10Z,2026-11-05T10:00:20Z,2,'-x.example.net."), "", 1},
		{"/api/v1/ip/192.0.2.0/24?format=csv&aliases=false", "passivedns-ip-192.0.2.0_24.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count",
			"evil.example.net.,A,192.0.2.1,2026-11-03T10:00:00Z,2026-11-03T10:01:00Z,2",
			"evil.example.net.,A,192.0.2.2,2026-11-04T10:00:00Z,2026-11-05T10:00:00Z,2",
			"shared.example.net.,A,192.0.2.2,2026-11-04T10:02:00Z,2026-11-04T10:02:00Z,1",
			"'=cmd.example.net.,A,192.0.2.99,2026-11-05T10:00:10Z,2026-11-05T10:00:20Z,2"), "", 4},
		{"/api/v1/rdata/=cmd.example.net?format=csv", "passivedns-rdata-_cmd.example.net.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count",
			"'-x.example.net.,CNAME,'=cmd.example.net.,2026-11-05T10:00:20Z,2026-11-05T10:00:20Z,1"), "", 1},
		{"/api/v1/negative/*.example.net?format=csv", "passivedns-negative-_.example.net.csv", crlf(
			"qname,qtype,rcode,time_first,time_last,count",
			"nodata.example.net.,AAAA,NOERROR,2026-11-04T10:05:00Z,2026-11-04T10:05:00Z,1",
			"nx.example.net.,A,NXDOMAIN,2026-11-03T10:00:40Z,2026-11-03T10:00:40Z,1"), "", 2},
		{"/api/v1/name/nothing.example.net?format=csv", "passivedns-name-nothing.example.net.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count"), "", 0},
		{"/api/v1/name/evil.example.net?format=csv&limit=1", "passivedns-name-evil.example.net.csv", crlf(
			"rrname,rrtype,rdata,time_first,time_last,count",
			"evil.example.net.,A,192.0.2.1,2026-11-03T10:00:00Z,2026-11-03T10:01:00Z,2"), "next", 1},
	}
	for _, tc := range tests {
		resp := c.get(tc.path)
		if resp.status != 200 || resp.body != tc.body {
			t.Errorf("GET %s: %d\n%q\nwant\n%q", tc.path, resp.status, resp.body, tc.body)
		}
		h := resp.header
		if h.Get("Content-Type") != "text/csv; charset=utf-8" || h.Get("Content-Disposition") != `attachment; filename="`+tc.file+`"` ||
			h.Get("X-Passivedns-Count") != itoa(tc.count) {
			t.Errorf("GET %s: Content-Type %q, Content-Disposition %q, X-Passivedns-Count %q", tc.path,
				h.Get("Content-Type"), h.Get("Content-Disposition"), h.Get("X-Passivedns-Count"))
		}
		cursor, link := h.Get("X-Passivedns-Cursor"), h.Get("Link")
		if tc.cursor == "" {
			if cursor != "" || link != "" {
				t.Errorf("GET %s: cursor %q, Link %q on the last page", tc.path, cursor, link)
			}
			continue
		}
		// The next page through the Link header, and the same cursor as the NDJSON trailer's.
		if cursor == "" || !strings.HasPrefix(link, "</api/v1/name/evil.example.net?") || !strings.HasSuffix(link, `>; rel="next"`) {
			t.Fatalf("GET %s: cursor %q, Link %q", tc.path, cursor, link)
		}
		nd := c.get(strings.Replace(tc.path, "format=csv", "format=ndjson", 1))
		var tr httpapi.NativeTrailer
		ls := strings.Split(strings.TrimSpace(nd.body), "\n")
		if json.Unmarshal([]byte(ls[len(ls)-1]), &tr) != nil || tr.Cursor != cursor {
			t.Errorf("NDJSON trailer %s, CSV cursor %q", ls[len(ls)-1], cursor)
		}
		next := c.get(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
		want := crlf("rrname,rrtype,rdata,time_first,time_last,count",
			"evil.example.net.,A,192.0.2.2,2026-11-04T10:00:00Z,2026-11-05T10:00:00Z,2")
		if next.status != 200 || next.body != want || next.header.Get("Link") != "" || next.header.Get("X-Passivedns-Count") != "1" {
			t.Errorf("next page: %d %q (Link %q), want %q", next.status, next.body, next.header.Get("Link"), want)
		}
	}
	// The default is NDJSON, byte for byte as without format.
	if a, b := c.get("/api/v1/ip/192.0.2.2"), c.get("/api/v1/ip/192.0.2.2?format=ndjson"); a.body != b.body || b.header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("format=ndjson %q (%s), without format %q", b.body, b.header.Get("Content-Type"), a.body)
	}
	// Errors before any output stay JSON.
	for _, p := range []string{"/api/v1/name/evil.example.net?format=xml", "/api/v1/name/evil.example.net?format=CSV",
		"/api/v1/name/evil.example.net?format=csv&rrtype=NOPE", "/api/v1/ip/300.1.2.3?format=csv"} {
		resp := c.get(p)
		var e httpapi.APIError
		if resp.status != http.StatusBadRequest || resp.header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(resp.body), &e) != nil {
			t.Errorf("GET %s: %d %s %q, want a JSON 400", p, resp.status, resp.header.Get("Content-Type"), resp.body)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestAPIPivotDepth walks a ladder of names sharing addresses one hop at a time, and
// the NS and MX targets with via.
func TestAPIPivotDepth(t *testing.T) {
	r := newRecording(t)
	A, MX, NS := dns.TypeA, dns.TypeMX, dns.TypeNS
	// a -> .1 <- b -> .2 <- c -> .3 <- d: each rung one hop further.
	ladder := []struct{ name, ips string }{{"a.test.", "198.51.100.1"}, {"b.test.", "198.51.100.1 198.51.100.2"},
		{"c.test.", "198.51.100.2 198.51.100.3"}, {"d.test.", "198.51.100.3"}}
	for i, l := range ladder {
		var rrs []string
		for _, ip := range strings.Fields(l.ips) {
			rrs = append(rrs, l.name+" 300 IN A "+ip)
		}
		r.set(l.name, A, dns.RcodeSuccess, rrs...)
		r.ask(at(scT0, i), l.name, A)
	}
	r.set("a.test.", MX, dns.RcodeSuccess, "a.test. 300 IN MX 10 Mail.Test.")
	r.ask(at(scT0, 10), "a.test.", MX)
	r.set("a.test.", NS, dns.RcodeSuccess, "a.test. 300 IN NS ns.test.")
	r.ask(at(scT0, 11), "a.test.", NS)
	r.set("sub.test.", NS, dns.RcodeSuccess, "sub.test. 300 IN NS a.test.") // a name delegated to a.test.
	r.ask(at(scT0, 12), "sub.test.", NS)
	r.set("mail.test.", A, dns.RcodeSuccess, "mail.test. 300 IN A 198.51.100.25")
	r.ask(at(scT0, 13), "mail.test.", A)
	r.flush()
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)

	type graph struct {
		Nodes []struct {
			ID    string `json:"id"`
			Depth *int   `json:"depth"`
		} `json:"nodes"`
		Edges []struct {
			From, To, RRType string
		} `json:"edges"`
		Truncated bool `json:"truncated"`
	}
	get := func(path string) (graph, string) {
		t.Helper()
		resp := c.get(path)
		var g graph
		if resp.status != 200 || json.Unmarshal([]byte(resp.body), &g) != nil {
			t.Fatalf("GET %s: %d %s", path, resp.status, resp.body)
		}
		return g, resp.body
	}
	nodes := func(g graph) string {
		var s []string
		for _, n := range g.Nodes {
			d := "-"
			if n.Depth != nil {
				d = itoa(*n.Depth)
			}
			s = append(s, n.ID+"@"+d)
		}
		return strings.Join(s, " ")
	}
	edges := func(g graph) string {
		var s []string
		for _, e := range g.Edges {
			s = append(s, e.From+" "+e.RRType+" "+e.To)
		}
		return strings.Join(s, ", ")
	}
	tests := []struct {
		path, nodes, edges string
		truncated          bool
	}{
		{"/api/v1/pivot/a.test", "ip:198.51.100.1@- name:a.test.@- name:b.test.@-",
			"name:a.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.1", false},
		{"/api/v1/pivot/a.test?depth=1&via=cname", "ip:198.51.100.1@1 name:a.test.@0 name:b.test.@1",
			"name:a.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.1", false},
		{"/api/v1/pivot/a.test?depth=2", "ip:198.51.100.1@1 ip:198.51.100.2@2 name:a.test.@0 name:b.test.@1 name:c.test.@2",
			"name:a.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.2, name:c.test. A ip:198.51.100.2", false},
		{"/api/v1/pivot/a.test?depth=4", "ip:198.51.100.1@1 ip:198.51.100.2@2 ip:198.51.100.3@3 name:a.test.@0 name:b.test.@1 name:c.test.@2 name:d.test.@3",
			"name:a.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.2, name:c.test. A ip:198.51.100.2, " +
				"name:c.test. A ip:198.51.100.3, name:d.test. A ip:198.51.100.3", false},
		{"/api/v1/pivot/a.test?depth=4&max_nodes=4", "ip:198.51.100.1@1 ip:198.51.100.2@2 name:a.test.@0 name:b.test.@1",
			"name:a.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.2", true},
		{"/api/v1/pivot/a.test?via=cname,ns,mx", "ip:198.51.100.1@1 name:a.test.@0 name:b.test.@1 name:mail.test.@1 name:ns.test.@1 name:sub.test.@1",
			"name:a.test. A ip:198.51.100.1, name:a.test. MX name:mail.test., name:a.test. NS name:ns.test., name:b.test. A ip:198.51.100.1, name:sub.test. NS name:a.test.", false},
		{"/api/v1/pivot/a.test?via=mx&via=cname&depth=2", "ip:198.51.100.1@1 ip:198.51.100.2@2 ip:198.51.100.25@2 name:a.test.@0 name:b.test.@1 name:c.test.@2 name:mail.test.@1",
			"name:a.test. A ip:198.51.100.1, name:a.test. MX name:mail.test., name:b.test. A ip:198.51.100.1, name:b.test. A ip:198.51.100.2, " +
				"name:c.test. A ip:198.51.100.2, name:mail.test. A ip:198.51.100.25", false},
	}
	bodies := map[string]string{}
	for _, tc := range tests {
		g, body := get(tc.path)
		if nodes(g) != tc.nodes || edges(g) != tc.edges || g.Truncated != tc.truncated {
			t.Errorf("GET %s:\n nodes %s\n want  %s\n edges %s\n want  %s\n truncated %v\n%s", tc.path, nodes(g), tc.nodes, edges(g), tc.edges, g.Truncated, body)
		}
		bodies[tc.path] = body
	}
	// IN lists cut into chunks of one value give the same graphs.
	defer history.SetMaxInList(history.SetMaxInList(1))
	for _, tc := range tests {
		if _, body := get(tc.path); body != bodies[tc.path] {
			t.Errorf("GET %s with one value per IN list:\n%s\nwant\n%s", tc.path, body, bodies[tc.path])
		}
	}
	// depth=1 is the answer without depth, byte for byte.
	_, one := get("/api/v1/pivot/a.test?depth=1")
	if _, plain := get("/api/v1/pivot/a.test"); one != plain || strings.Contains(plain, `"depth"`) {
		t.Errorf("depth=1 %s\nwithout %s", one, plain)
	}
}
