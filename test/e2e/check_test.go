package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// captureSlack is how much later than the client's receipt of an answer passivedns may
// take its time: it reads the clock after writing the answer to the client, and the
// client can read it first.
const captureSlack = time.Second

// checkRows asserts that rows are exactly the answers xs received by the clients of the
// resolver at addr, one row per answer: same question, transport, rcode, header flags,
// size, and answer and authority records (name, type, class, TTL, data) as received.
// Each row's time must lie between the moment its query was sent and, give or take
// captureSlack, the moment its answer arrived. It returns the row of each exchange.
func checkRows(t *testing.T, rows []responseRow, xs []*exchange, addr string) map[*exchange]responseRow {
	t.Helper()
	zeroClient := strings.Repeat("0", 32) // clients off: the unspecified address
	for _, r := range rows {
		if r.Sensor != "e2e" || r.Server != "dns://"+addr || r.Client != zeroClient || r.BatchID == "0" || r.DurationUs > 2e6 {
			t.Errorf("row %s: sensor %q server %q client %s batch_id %s duration_us %d; want sensor e2e, server dns://%s, client %s, a batch id, under 2s",
				r.response(), r.Sensor, r.Server, r.Client, r.BatchID, r.DurationUs, addr, zeroClient)
		}
	}

	want := map[string][]*exchange{} // in the order sent
	for _, x := range xs {
		k := x.expected().String()
		want[k] = append(want[k], x)
	}
	got := map[string][]responseRow{} // rows come in time order
	for _, r := range rows {
		k := r.response().String()
		got[k] = append(got[k], r)
	}
	matched := map[*exchange]responseRow{}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w, g := want[k], got[k]
		if len(w) != len(g) {
			t.Errorf("%d rows, want %d (answers received): %s", len(g), len(w), k)
			continue
		}
		// Queries with the same answer were sent one after another, so the i-th row in
		// time order belongs to the i-th query.
		for i, x := range w {
			r := g[i]
			matched[x] = r
			if ms := r.unixMilli(); ms < x.sent.UnixMilli() || ms > x.recv.Add(captureSlack).UnixMilli() {
				t.Errorf("%v: row time %d ms is outside [%d, %d] (query sent, answer received + %v)",
					x, ms, x.sent.UnixMilli(), x.recv.Add(captureSlack).UnixMilli(), captureSlack)
			}
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, r := range rows {
			fmt.Fprintf(&b, "  %d.%03d %s\n", r.T, r.Ms, r.response())
		}
		t.Logf("rows in responses:\n%s", b.String())
	}
	return matched
}

// checkHistory asserts that the history view holds one row per (name, type, data) of
// the received answers, counting every answer that carried it (cache hits included),
// with time_first and time_last the second of the first and last such answer.
func checkHistory(t *testing.T, hist []historyRow, xs []*exchange, rowOf map[*exchange]responseRow) {
	t.Helper()
	want := map[historyKey]historyRow{}
	for _, x := range xs {
		r, ok := rowOf[x]
		if !ok {
			t.Fatalf("%v has no row", x)
		}
		for _, a := range x.expected().Answer {
			k := historyKey{a.Name, a.Type, a.Data}
			h, seen := want[k]
			if !seen {
				h = historyRow{RRName: a.Name, RRType: a.Type, RData: a.Data, First: r.T, Last: r.T}
			}
			h.First, h.Last = min(h.First, r.T), max(h.Last, r.T)
			h.Count++
			want[k] = h
		}
	}
	got := historyMap(hist)
	if len(got) != len(hist) {
		t.Errorf("history has %d rows for %d distinct (rrname, rrtype, rdata)", len(hist), len(got))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("history: missing %v", w)
		case g != w:
			t.Errorf("history: got %v, want %v", g, w)
		}
		if ok && g.First > g.Last {
			t.Errorf("history: time_first after time_last: %v", g)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("history: unexpected %v", g)
		}
	}
}

// authQueries counts the questions an authoritative server with the log plugin
// answered, by "name TYPE" with the name lowered.
func authQueries(c *corednstest.Process) map[string]int {
	re := regexp.MustCompile(`"(\S+) IN (\S+) (?:udp|tcp) `)
	n := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(c.Output(), -1) {
		n[strings.ToLower(m[2])+" "+m[1]]++
	}
	return n
}
