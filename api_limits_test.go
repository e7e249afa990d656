package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Sizes ten times those that made generated IN lists exceed max_query_size (a 500
// "code: 62"): 5,000 ~55-character names whose aliases are looked up at once, a bulk
// of 500 names of ~250 wire bytes written with escapes (~1,000 characters each), and a
// DNSDB per-day rdata lookup over all of them.
const largeNames = 5000

func largeName(i int) string {
	return fmt.Sprintf("h%04d-%s.example.net.", i, strings.Repeat("x", 36))
}

// escName is ~250 wire bytes, ~1,000 characters of \DDD escapes.
func escName(i int) string {
	label := strings.Repeat(`\255`, 58)
	return fmt.Sprintf("e%03d%s.%s.%s.%s.example.com.", i, label[:4*55], label, label, label[:4*50])
}

func recordLarge(t *testing.T) *recording {
	r := newRecording(t)
	for i := range largeNames {
		n := largeName(i)
		r.set(n, dns.TypeA, dns.RcodeSuccess, fmt.Sprintf("%s 300 IN A 11.%d.%d.1", n, i/256, i%256))
		r.ask(at(scT0, i%3600), n, dns.TypeA)
	}
	for i := 0; i < largeNames; i += 100 {
		alias, n := fmt.Sprintf("alias%d.example.org.", i), largeName(i)
		r.set(alias, dns.TypeA, dns.RcodeSuccess, alias+" 300 IN CNAME "+n, fmt.Sprintf("%s 300 IN A 11.%d.%d.1", n, i/256, i%256))
		r.ask(at(scT0, 10), alias, dns.TypeA)
	}
	for i := range 500 {
		n := escName(i)
		r.set(n, dns.TypeA, dns.RcodeSuccess, fmt.Sprintf("%s 300 IN A 12.0.%d.%d", n, i/256, i%256))
		r.ask(at(scT0, 20), n, dns.TypeA)
	}
	r.flush()
	return r
}

func limitLines(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %.200q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestAPILargeLists(t *testing.T) {
	r := recordLarge(t)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)

	t.Run("aliases of 5000 names", func(t *testing.T) {
		resp := c.get("/api/v1/ip/11.0.0.0/8?limit=5000")
		if resp.status != 200 {
			t.Fatalf("%d %.300s", resp.status, resp.body)
		}
		ls := limitLines(t, resp.body)
		if len(ls) != largeNames+1 || ls[largeNames]["done"] != true || ls[largeNames]["count"] != float64(largeNames) {
			t.Fatalf("%d lines, trailer %v", len(ls), ls[len(ls)-1])
		}
		withAliases := 0
		for i, l := range ls[:largeNames] {
			al := l["aliases"].([]any)
			if i%100 == 0 {
				want := fmt.Sprintf("alias%d.example.org.", i)
				if len(al) != 1 || al[0].(map[string]any)["rrname"] != want || l["rrname"] != largeName(i) {
					t.Errorf("line %d: %v, want the alias %s", i, l, want)
				}
			}
			withAliases += len(al)
		}
		if withAliases != largeNames/100 {
			t.Errorf("%d aliases, want %d", withAliases, largeNames/100)
		}
	})

	t.Run("bulk of 500 escaped names", func(t *testing.T) {
		var body strings.Builder
		for i := range 500 {
			body.WriteString(escName(i) + "\n")
		}
		resp := c.do("POST", "/api/v1/bulk", nil, strings.NewReader(body.String()))
		if resp.status != 200 {
			t.Fatalf("%d %.300s", resp.status, resp.body)
		}
		ls := limitLines(t, resp.body)
		if len(ls) != 2*500+1 {
			t.Fatalf("%d lines, want %d; last %v", len(ls), 2*500+1, ls[len(ls)-1])
		}
		for i := range 500 {
			rec, done := ls[2*i], ls[2*i+1]
			if rec["rrname"] != escName(i) || rec["rdata"] != fmt.Sprintf("12.0.%d.%d", i/256, i%256) || done["count"] != float64(1) {
				t.Errorf("input %d: %v %v", i, rec, done)
			}
		}
	})

	t.Run("dnsdb rdata ip 0.0.0.0,0 aggr=false", func(t *testing.T) {
		resp := c.get("/dnsdb/v2/lookup/rdata/ip/0.0.0.0,0?aggr=false")
		if resp.status != 200 {
			t.Fatalf("%d %.300s", resp.status, resp.body)
		}
		ls := limitLines(t, resp.body)
		want := largeNames + 500
		if len(ls) != want+2 || ls[len(ls)-1]["cond"] != "succeeded" {
			t.Fatalf("%d lines, want %d; last %v", len(ls), want+2, ls[len(ls)-1])
		}
		seen := map[string]bool{}
		for _, l := range ls[1 : want+1] {
			o := l["obj"].(map[string]any)
			seen[o["rrname"].(string)+" "+o["rdata"].(string)] = true
		}
		for _, k := range []string{largeName(0) + " 11.0.0.1", largeName(4999) + " 11.19.135.1", escName(499) + " 12.0.1.243"} {
			if !seen[k] {
				t.Errorf("%s missing", k)
			}
		}
		if len(seen) != want {
			t.Errorf("%d distinct results, want %d", len(seen), want)
		}
	})

	t.Run("8 slow bulk bodies lock nobody out", func(t *testing.T) {
		addr := strings.TrimPrefix(c.base, "http://")
		for range httpapi.MaxConcurrent {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /api/v1/bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
			go func() { // a byte a second
				for range 5 {
					if _, err := conn.Write([]byte("a")); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		for i := range 3 {
			if resp := c.get("/api/v1/name/" + largeName(i)); resp.status != 200 {
				t.Errorf("while 8 bodies trickle in: %d %s", resp.status, resp.body)
			}
		}
	})
}

// TestAPIBulkDeadline: 5,000 wildcards and 5,000 /0 scans end at the request's
// deadline with an error line that says how far they got, and no trailer.
func TestAPIBulkDeadline(t *testing.T) {
	r := newRecording(t)
	for i := range 50 {
		n := largeName(i)
		r.set(n, dns.TypeA, dns.RcodeSuccess, fmt.Sprintf("%s 300 IN A 11.0.0.%d", n, i))
		r.ask(at(scT0, i), n, dns.TypeA)
	}
	r.flush()
	cfg := r.cfg
	cfg.apiTimeout = time.Second // the bulk's deadline is 6 s
	c := startAPI(t, cfg, httpapi.Config{}, scNow)
	var body strings.Builder
	for range 5000 {
		body.WriteString("*.example.net\n0.0.0.0/0\n")
	}
	start := time.Now()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/bulk", strings.NewReader(body.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	ls := limitLines(t, string(b))
	last := ls[len(ls)-1]
	t.Logf("10,000 inputs: %d lines in %v, last %v", len(ls), took.Round(time.Millisecond), last)
	if took > 9*time.Second {
		t.Errorf("took %v, deadline 6s", took)
	}
	if msg, _ := last["error"].(string); !strings.HasPrefix(msg, "request deadline of 6s reached: inputs 0 to ") {
		t.Errorf("last line %v, want the deadline error", last)
	}
}
