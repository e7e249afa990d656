package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/record"

	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// askFrom sends a query through ServeDNS from client address ip at scenario time at.
func (r *recording) askFrom(at time.Time, ip, qname string, qtype uint16) {
	r.t.Helper()
	r.clock.push(at)
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	rw := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: ip})
	if _, err := r.p.ServeDNS(context.Background(), rw, q); err != nil {
		r.t.Fatalf("ServeDNS %s: %v", qname, err)
	}
}

// recordClients records three clients (two IPv4, one IPv6) asking for evil and good.
func recordClients(t *testing.T, mode record.ClientsMode) *recording {
	r := newRecording(t)
	r.cfg.clients, r.p.cfg.clients = mode, mode
	r.set("evil.example.net.", dns.TypeA, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	r.set("evil.example.net.", dns.TypeAAAA, dns.RcodeSuccess, "evil.example.net. 300 IN AAAA 2001:db8::1")
	r.set("good.example.net.", dns.TypeA, dns.RcodeSuccess, "good.example.net. 300 IN A 192.0.2.9")
	r.askFrom(scT0, "10.1.2.3", "evil.example.net.", dns.TypeA)
	r.askFrom(at(scT0, 10), "10.1.2.3", "evil.example.net.", dns.TypeAAAA)
	r.askFrom(at(scT0, 20), "10.1.2.3", "good.example.net.", dns.TypeA)
	r.askFrom(scT1, "10.9.9.9", "evil.example.net.", dns.TypeA)
	r.askFrom(at(scT1, 5), "2001:db8:77::5", "evil.example.net.", dns.TypeA)
	r.askFrom(scT2, "10.1.2.3", "evil.example.net.", dns.TypeA)
	r.flush()
	return r
}

func TestAPIClients(t *testing.T) {
	r := recordClients(t, record.ClientsFull)
	c := startAPI(t, r.cfg, httpapi.Config{Clients: "full"}, scNow)
	rec := func(client, qname, qtypes, first, last string, n int) string {
		return `{"client":"` + client + `","qname":"` + qname + `","qtypes":[` + qtypes + `],"time_first":"` + first + `","time_last":"` + last + `","count":` + itoa(n) + `}`
	}
	evil1 := rec("10.1.2.3", "evil.example.net.", `"A","AAAA"`, "2026-11-03T10:00:00Z", "2026-11-05T10:00:00Z", 3)
	evil2 := rec("10.9.9.9", "evil.example.net.", `"A"`, "2026-11-04T10:00:00Z", "2026-11-04T10:00:00Z", 1)
	evil6 := rec("2001:db8:77::5", "evil.example.net.", `"A"`, "2026-11-04T10:00:05Z", "2026-11-04T10:00:05Z", 1)
	good1 := rec("10.1.2.3", "good.example.net.", `"A"`, "2026-11-03T10:00:20Z", "2026-11-03T10:00:20Z", 1)
	trailer := func(n int, extra string) string {
		return `{"done":true,"count":` + itoa(n) + extra + `,"clients":"full"}`
	}

	// IPv4 clients sort first: they are stored IPv4-mapped (::ffff:a.b.c.d).
	c.expect("/api/v1/clients/evil.example.net", 200, lines(evil1, evil2, evil6, trailer(3, "")))
	c.expect("/api/v1/clients/evil[.]example[.]net?rrtype=AAAA", 200, lines(
		rec("10.1.2.3", "evil.example.net.", `"AAAA"`, "2026-11-03T10:00:10Z", "2026-11-03T10:00:10Z", 1),
		`{"done":true,"count":1,"clients":"full","searched_for":"evil.example.net."}`))
	c.expect("/api/v1/clients/*.example.net?from=2026-11-03&to=2026-11-03T23:59:59", 200, lines(
		good1, rec("10.1.2.3", "evil.example.net.", `"A","AAAA"`, "2026-11-03T10:00:00Z", "2026-11-03T10:00:10Z", 2),
		trailer(2, `,"from":"2026-11-03T00:00:00Z","to":"2026-11-03T23:59:59Z"`)))
	c.expect("/api/v1/clients/nothing.example.net", 200, lines(trailer(0, "")))

	// Paging: one per page, the cursor carries on.
	resp := c.get("/api/v1/clients/evil.example.net?limit=1")
	var seen []string
	for page := 0; page < 5; page++ {
		ls := strings.Split(strings.TrimSpace(resp.body), "\n")
		var tr struct {
			Cursor string `json:"cursor"`
		}
		json.Unmarshal([]byte(ls[len(ls)-1]), &tr)
		seen = append(seen, ls[:len(ls)-1]...)
		if tr.Cursor == "" {
			break
		}
		resp = c.get("/api/v1/clients/evil.example.net?limit=1&cursor=" + tr.Cursor)
	}
	if strings.Join(seen, "\n") != strings.Join([]string{evil1, evil2, evil6}, "\n") {
		t.Errorf("paged clients:\n%s", strings.Join(seen, "\n"))
	}

	// By client: an address, a prefix, IPv6; the window defaults to the day before to.
	// Names sort by their reversed form, as the table does.
	c.expect("/api/v1/client/10.1.2.3?from=2026-11-01", 200, lines(good1, evil1, trailer(2, `,"from":"2026-11-01T00:00:00Z"`)))
	c.expect("/api/v1/client/10.0.0.0/8?from=2026-11-01&rrtype=A", 200, lines(good1,
		rec("10.1.2.3", "evil.example.net.", `"A"`, "2026-11-03T10:00:00Z", "2026-11-05T10:00:00Z", 2), evil2,
		trailer(3, `,"from":"2026-11-01T00:00:00Z"`)))
	c.expect("/api/v1/client/2001:db8:77::/48?from=-7d", 200, lines(evil6, trailer(1, `,"from":"2026-10-29T11:00:00Z"`)))
	// scNow is scT2 + 1h: the default window (a day) holds only the last answer.
	c.expect("/api/v1/client/10.1.2.3", 200, lines(
		rec("10.1.2.3", "evil.example.net.", `"A"`, "2026-11-05T10:00:00Z", "2026-11-05T10:00:00Z", 1),
		trailer(1, `,"from":"2026-11-04T11:00:00Z"`)))
	resp = c.get("/api/v1/client/10.1.2.3?from=2026-11-01&limit=1")
	if !strings.Contains(resp.body, `"cursor":"`) || resp.header.Get("X-Searched-For") != "10.1.2.3" {
		t.Errorf("first page by client: %s %v", resp.body, resp.header)
	}
	seen = nil
	for page := 0; page < 5; page++ {
		ls := strings.Split(strings.TrimSpace(resp.body), "\n")
		var tr struct {
			Cursor string `json:"cursor"`
		}
		json.Unmarshal([]byte(ls[len(ls)-1]), &tr)
		seen = append(seen, ls[:len(ls)-1]...)
		if tr.Cursor == "" {
			break
		}
		resp = c.get("/api/v1/client/10.1.2.3?from=2026-11-01&limit=1&cursor=" + tr.Cursor)
	}
	if strings.Join(seen, "\n") != good1+"\n"+evil1 {
		t.Errorf("paged names of a client:\n%s", strings.Join(seen, "\n"))
	}
	// A cursor of one lookup does not fit another.
	ls := strings.Split(strings.TrimSpace(c.get("/api/v1/client/10.1.2.3?from=2026-11-01&limit=1").body), "\n")
	var tr struct {
		Cursor string `json:"cursor"`
	}
	json.Unmarshal([]byte(ls[len(ls)-1]), &tr)
	resp = c.get("/api/v1/client/10.9.9.9?from=2026-11-01&limit=1&cursor=" + tr.Cursor)
	if resp.status != 400 || !strings.Contains(resp.body, "belongs to another query") {
		t.Errorf("foreign cursor: %d %s", resp.status, resp.body)
	}

	// Bad input names the parameter.
	c.expect("/api/v1/client/10.1.2.300", 400, `{"error":"address: not an IPv4 or IPv6 address","parameter":"address"}`+"\n")
	c.expect("/api/v1/clients/evil.example.net?sensor=x", 400, `{"error":"sensor: unknown parameter","parameter":"sensor"}`+"\n")
	c.expect("/api/v1/clients/evil.example.net?from=2026-11-05&to=2026-11-04", 400, `{"error":"to: before from","parameter":"to"}`+"\n")
}

func TestAPIClientsPrefix(t *testing.T) {
	r := recordClients(t, record.ClientsPrefix)
	c := startAPI(t, r.cfg, httpapi.Config{Clients: "prefix"}, scNow)
	// Stored as networks: an address finds its /24.
	c.expect("/api/v1/client/10.1.2.3?from=2026-11-01&rrtype=AAAA", 200, lines(
		`{"client":"10.1.2.0","qname":"evil.example.net.","qtypes":["AAAA"],"time_first":"2026-11-03T10:00:10Z","time_last":"2026-11-03T10:00:10Z","count":1}`,
		`{"done":true,"count":1,"from":"2026-11-01T00:00:00Z","clients":"prefix"}`))
}

func TestAPIClientsOffAndKeys(t *testing.T) {
	r := recordClients(t, record.ClientsOff)
	off := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	off.expect("/api/v1/clients/evil.example.net", 404, `{"error":"client addresses are not recorded (clients off): set clients prefix or full to record who asked"}`+"\n")
	off.expect("/api/v1/client/10.1.2.3", 404, `{"error":"client addresses are not recorded (clients off): set clients prefix or full to record who asked"}`+"\n")

	key, ckey := "general-key-1", "clients-key-1"
	hc := httpapi.Config{Clients: "full", Keys: [][32]byte{sha256.Sum256([]byte(key))}, ClientKeys: [][32]byte{sha256.Sum256([]byte(ckey))}}
	c := startAPI(t, r.cfg, hc, scNow)
	for _, tc := range []struct {
		path, key string
		status    int
	}{
		{"/api/v1/clients/evil.example.net", "", 401},
		{"/api/v1/clients/evil.example.net", "wrong-key-1", 401},
		{"/api/v1/clients/evil.example.net", key, 403},
		{"/api/v1/client/10.1.2.3", key, 403},
		{"/api/v1/clients/evil.example.net", ckey, 200},
		{"/api/v1/client/10.1.2.3", ckey, 200},
		{"/api/v1/name/evil.example.net", key, 200},
		{"/api/v1/name/evil.example.net", ckey, 200}, // a clients key reads everything
		{"/api/v1/name/evil.example.net", "", 401},
	} {
		resp := c.do("GET", tc.path, http.Header{"X-Api-Key": {tc.key}}, nil)
		if resp.status != tc.status {
			t.Errorf("%s with %q: %d %s, want %d", tc.path, tc.key, resp.status, resp.body, tc.status)
		}
	}
	// With no keys at all (loopback) everything is open.
	open := startAPI(t, r.cfg, httpapi.Config{Clients: "full"}, scNow)
	open.expect("/api/v1/client/10.1.2.3", 200, lines(`{"done":true,"count":0,"from":"2026-11-04T11:00:00Z","clients":"full"}`))
}
