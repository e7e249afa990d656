package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAPIPagination walks answers of several thousand rows page by page, in every
// protocol, and finds each row exactly once.
func TestAPIPagination(t *testing.T) {
	r := newRecording(t)
	const names = 3000
	want := map[string]bool{}
	for i := range names {
		n := fmt.Sprintf("h%04d.pages.example.net.", i)
		rrs := []string{fmt.Sprintf("%s 300 IN A 10.%d.%d.1", n, i/256, i%256)}
		want[n+" 10."+fmt.Sprint(i/256)+"."+fmt.Sprint(i%256)+".1"] = true
		if i%3 == 0 { // some names have two addresses
			rrs = append(rrs, fmt.Sprintf("%s 300 IN A 10.%d.%d.2", n, i/256, i%256))
			want[n+" 10."+fmt.Sprint(i/256)+"."+fmt.Sprint(i%256)+".2"] = true
		}
		r.set(n, dns.TypeA, dns.RcodeSuccess, rrs...)
		r.ask(at(scT0, i), n, dns.TypeA)
	}
	r.flush()
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	total := len(want)

	check := func(what string, seen map[string]int) {
		t.Helper()
		if len(seen) != total {
			t.Errorf("%s: %d distinct rows, want %d", what, len(seen), total)
		}
		for k, n := range seen {
			if n != 1 || !want[k] {
				t.Errorf("%s: %s seen %d times (expected row: %v)", what, k, n, want[k])
			}
		}
	}

	// Native: the cursor of each trailer leads to the next page.
	for _, base := range []string{"/api/v1/name/*.pages.example.net?limit=257", "/api/v1/ip/10.0.0.0/8?aliases=false&limit=300"} {
		seen := map[string]int{}
		cur, pages := "", 0
		for {
			resp := c.get(base + "&cursor=" + cur)
			if resp.status != 200 {
				t.Fatalf("%s: %d %s", base, resp.status, resp.body)
			}
			pages++
			ls := strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n")
			var tr httpapi.NativeTrailer
			if err := json.Unmarshal([]byte(ls[len(ls)-1]), &tr); err != nil || !tr.Done || tr.Count != len(ls)-1 {
				t.Fatalf("%s: trailer %s", base, ls[len(ls)-1])
			}
			for _, l := range ls[:len(ls)-1] {
				var rec httpapi.NativeRecord
				json.Unmarshal([]byte(l), &rec)
				seen[rec.RRName+" "+rec.RData]++
			}
			if tr.Cursor == "" {
				break
			}
			cur = tr.Cursor
		}
		check(base, seen)
		if pages < total/300 {
			t.Errorf("%s: %d pages", base, pages)
		}
	}

	// A relative window keeps its times across pages while the clock moves on.
	var tick atomic.Int64
	moving := startAPI(t, r.cfg, httpapi.Config{}, scNow, func(a *httpapi.Server) {
		a.Now = func() time.Time { return scNow.Add(time.Duration(tick.Add(1)) * time.Minute) }
	})
	relSeen := map[string]int{}
	for cur := ""; ; {
		resp := moving.get("/api/v1/name/*.pages.example.net?limit=1000&from=-8760h&cursor=" + cur)
		ls := strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n")
		var tr httpapi.NativeTrailer
		if resp.status != 200 || json.Unmarshal([]byte(ls[len(ls)-1]), &tr) != nil {
			t.Fatalf("relative window: %d %s", resp.status, ls[len(ls)-1])
		}
		for _, l := range ls[:len(ls)-1] {
			var rec httpapi.NativeRecord
			json.Unmarshal([]byte(l), &rec)
			relSeen[rec.RRName+" "+rec.RData]++
		}
		if cur = tr.Cursor; cur == "" {
			break
		}
	}
	check("relative window", relSeen)

	// COF: x-dribble-cursor.
	seen := map[string]int{}
	cur := ""
	for {
		h := http.Header{"Dribble-Paginate-Count": {"700"}}
		if cur != "" {
			h.Set("Dribble-Paginate-Cursor", cur)
		}
		resp := c.do("GET", "/pdns/query/*.pages.example.net", h, nil)
		if resp.status != 200 {
			t.Fatalf("COF: %d %s", resp.status, resp.body)
		}
		for _, l := range strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n") {
			var rec httpapi.CofRecord
			json.Unmarshal([]byte(l), &rec)
			seen[rec.RRName+" "+rec.RData[0]]++
		}
		if cur = resp.header.Get("X-Dribble-Cursor"); cur == "" {
			break
		}
	}
	check("COF", seen)

	// DNSDB: offset and limit, "limited" until the last page.
	seen = map[string]int{}
	for off := 0; ; off += 1000 {
		resp := c.get(fmt.Sprintf("/dnsdb/v2/lookup/rdata/ip/10.0.0.0,8?limit=1000&offset=%d", off))
		ls := strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n")
		for _, l := range ls[1 : len(ls)-1] {
			var o struct{ Obj httpapi.DnsdbObj }
			json.Unmarshal([]byte(l), &o)
			seen[o.Obj.RRName+" "+o.Obj.RData.(string)]++
		}
		if ls[len(ls)-1] == `{"cond":"succeeded"}` {
			break
		}
		if ls[len(ls)-1] != `{"cond":"limited","msg":"Result limit reached"}` || off > total {
			t.Fatalf("DNSDB offset %d: %s", off, ls[len(ls)-1])
		}
	}
	check("DNSDB", seen)

	// Bulk: every name in one request.
	var body strings.Builder
	for i := range names {
		fmt.Fprintf(&body, "h%04d.pages.example.net\n", i)
	}
	resp := c.do("POST", "/api/v1/bulk", nil, strings.NewReader(body.String()))
	seen = map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n") {
		var b httpapi.BulkLine
		json.Unmarshal([]byte(l), &b)
		if b.RRName != "" {
			if fmt.Sprintf("h%04d.pages.example.net", b.Index) != b.Input || b.Input+"." != b.RRName {
				t.Fatalf("bulk line answers another input: %s", l)
			}
			seen[b.RRName+" "+b.RData]++
		}
	}
	check("bulk", seen)
}
