package e2e

import (
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// TestPluginListed checks that the binary has passivedns and the plugins these tests use.
func TestPluginListed(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(coredns.Path, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("coredns -plugins: %v\n%s", err, out)
	}
	listed := strings.Fields(string(out))
	for _, p := range []string{"passivedns", "file", "cache", "forward", "log", "errors", "health", "ready", "prometheus", "reload"} {
		if !slices.Contains(listed, p) {
			t.Errorf("coredns -plugins does not list %s:\n%s", p, out)
		}
	}
}

// TestRecordsAnswers sends answers of many kinds through a caching resolver and checks
// that each one the client received is one row of responses, exactly as received, and
// that history aggregates them, cache hits included.
func TestRecordsAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	corednstest.WriteFileAtomic(t, filepath.Join(dir, "db.example.org"), zone(2024010101, "192.0.2.10"))
	auth := coredns.Start(t, "auth", dir, authCorefile)
	db := corednstest.Database(t, ch, "e2e_records")
	res := coredns.Start(t, "resolver", dir, resolverCorefile(db, auth.Addr, "cache", "100ms"))

	ns := []string{"example.org. NS ns1.example.org."}
	soa := []string{"example.org. SOA " + soaData}
	www := "www.example.org. A 192.0.2.1"
	chain := []string{"alias.example.org. CNAME alias2.example.org.", "alias2.example.org. CNAME www.example.org.", www}
	steps := []struct {
		transport, qname string
		qtype            uint16
		rcode            int
		answer           []string // "name TYPE data"
		authority        []string
	}{
		{"udp", "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{www}, ns},
		{"udp", "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{www}, ns}, // cache hit
		{"udp", "WwW.ExAmPlE.oRg.", dns.TypeA, dns.RcodeSuccess, []string{www}, ns}, // cache hit, names stored lowered
		{"udp", "web.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"web.example.org. A 192.0.2.1"}, ns},
		{"tcp", "www.example.org.", dns.TypeAAAA, dns.RcodeSuccess, []string{"www.example.org. AAAA 2001:db8::1"}, ns},
		{"udp", "alias.example.org.", dns.TypeA, dns.RcodeSuccess, chain, ns},
		{"tcp", "alias.example.org.", dns.TypeA, dns.RcodeSuccess, chain, ns}, // cache hit over TCP
		{"udp", "example.org.", dns.TypeMX, dns.RcodeSuccess, []string{"example.org. MX 10 mail.example.org."}, ns},
		{"tcp", "example.org.", dns.TypeTXT, dns.RcodeSuccess, []string{`example.org. TXT "v=spf1 -all"`}, ns},
		{"udp", "txt.example.org.", dns.TypeTXT, dns.RcodeSuccess, []string{`txt.example.org. TXT "hello world" "second string"`}, ns},
		{"udp", "example.org.", dns.TypeNS, dns.RcodeSuccess, ns, nil},
		{"tcp", "example.org.", dns.TypeSOA, dns.RcodeSuccess, soa, ns},
		{"udp", "nx.example.org.", dns.TypeA, dns.RcodeNameError, nil, soa},         // NXDOMAIN
		{"tcp", "nx.example.org.", dns.TypeA, dns.RcodeNameError, nil, soa},         // cache hit
		{"udp", "www.example.org.", dns.TypeTXT, dns.RcodeSuccess, nil, soa},        // NODATA
		{"udp", "www.example.org.", dns.TypeTXT, dns.RcodeSuccess, nil, soa},        // cache hit
		{"tcp", "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{www}, ns}, // cache hit over TCP
	}
	var xs []*exchange
	questions := map[string]int{}
	for _, s := range steps {
		x := mustQuery(t, res.Addr, s.transport, s.qname, s.qtype)
		e := x.expected()
		if e.Rcode != dns.RcodeToString[s.rcode] || !slices.Equal(shorts(e.Answer), s.answer) || !slices.Equal(shorts(e.Authority), s.authority) {
			t.Errorf("%v: got %s answer %q authority %q; want %s answer %q authority %q", x,
				e.Rcode, shorts(e.Answer), shorts(e.Authority), dns.RcodeToString[s.rcode], s.answer, s.authority)
		}
		xs = append(xs, x)
		questions[strings.ToLower(s.qname)+" "+dns.TypeToString[s.qtype]] = 1
	}
	if t.Failed() {
		t.FailNow() // the setup is wrong; the rows would only repeat it
	}
	// Repeated questions were cache hits: each distinct one reached the authoritative
	// server once, yet every answer must be recorded. The server logs a query after its
	// answer is sent, so the last line may come after the resolver's answer: wait for it.
	got := authQueries(auth)
	for deadline := time.Now().Add(5 * time.Second); !maps.Equal(got, questions) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		got = authQueries(auth)
	}
	if !maps.Equal(got, questions) {
		t.Errorf("questions the authoritative server answered: %v, want each of %v once", got, questions)
	}

	waitResponses(t, db, len(xs), len(xs))
	rowOf := checkRows(t, responses(t, db), xs, res.Addr)
	if t.Failed() {
		t.FailNow()
	}
	hist := history(t, db)
	checkHistory(t, hist, xs, rowOf)

	// The same, written out: every (rrname, rrtype, rdata) of an answer section, with
	// the number of answers that carried it. Authority records are not history.
	var counts []string
	for _, h := range hist {
		counts = append(counts, fmt.Sprintf("%s %s %s %d", h.RRName, h.RRType, h.RData, h.Count))
	}
	wantCounts := []string{
		"alias.example.org. CNAME alias2.example.org. 2",
		"alias2.example.org. CNAME www.example.org. 2",
		"example.org. MX 10 mail.example.org. 1",
		"example.org. NS ns1.example.org. 1",
		"example.org. SOA " + soaData + " 1",
		`example.org. TXT "v=spf1 -all" 1`,
		`txt.example.org. TXT "hello world" "second string" 1`,
		"web.example.org. A 192.0.2.1 1",
		"www.example.org. A 192.0.2.1 6",
		"www.example.org. AAAA 2001:db8::1 1",
	}
	if !slices.Equal(counts, wantCounts) {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(counts, "\n"), strings.Join(wantCounts, "\n"))
	}

	// The two names that share 192.0.2.1 are both found by address.
	byIP := corednstest.Lines(t, ch, "SELECT IPv6NumToString(ip), rrname, rrtype, countMerge(count) FROM "+db+
		".history_by_ip GROUP BY ip, rrname, rrtype ORDER BY rrname, rrtype")
	wantByIP := []string{
		"::ffff:192.0.2.1\tweb.example.org.\tA\t1",
		"::ffff:192.0.2.1\twww.example.org.\tA\t6",
		"2001:db8::1\twww.example.org.\tAAAA\t1",
	}
	if !slices.Equal(byIP, wantByIP) {
		t.Errorf("history_by_ip:\n%s\nwant:\n%s", strings.Join(byIP, "\n"), strings.Join(wantByIP, "\n"))
	}
	// Records are found by the name in their data: both hops of the chain, MX and NS.
	byRdata := corednstest.Lines(t, ch, "SELECT target, rrname, rrtype, rdata, countMerge(count) FROM "+db+
		".history_by_rdata GROUP BY target, rrname, rrtype, rdata ORDER BY target, rrname")
	wantByRdata := []string{
		"alias2.example.org.\talias.example.org.\tCNAME\talias2.example.org.\t2",
		"mail.example.org.\texample.org.\tMX\t10 mail.example.org.\t1",
		"ns1.example.org.\texample.org.\tNS\tns1.example.org.\t1",
		"www.example.org.\talias2.example.org.\tCNAME\twww.example.org.\t2",
	}
	if !slices.Equal(byRdata, wantByRdata) {
		t.Errorf("history_by_rdata:\n%s\nwant:\n%s", strings.Join(byRdata, "\n"), strings.Join(wantByRdata, "\n"))
	}
}

// TestAddressMove moves a name to a new address in the zone and checks that history keeps
// the old tuple as it was and starts a new one after it.
func TestAddressMove(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zonePath := filepath.Join(dir, "db.example.org")
	corednstest.WriteFileAtomic(t, zonePath, zone(1, "192.0.2.10"))
	auth := coredns.Start(t, "auth", dir, authCorefile)
	db := corednstest.Database(t, ch, "e2e_move")
	// cache 1: answers stay cached for one second (the default would keep even the
	// one-second TTL of moved.example.org for the 5 s minimum).
	res := coredns.Start(t, "resolver", dir, resolverCorefile(db, auth.Addr, "cache 1", "100ms"))

	const name = "moved.example.org."
	oldKey := historyKey{name, "A", "192.0.2.10"}
	newKey := historyKey{name, "A", "192.0.2.20"}
	expect := func(x *exchange, addr string) {
		t.Helper()
		if got := addrOf(x); got != addr || x.msg.Rcode != dns.RcodeSuccess {
			t.Fatalf("%v: got %s %q, want NOERROR %s", x, dns.RcodeToString[x.msg.Rcode], got, addr)
		}
	}

	old1 := mustQuery(t, res.Addr, "udp", name, dns.TypeA)
	old2 := mustQuery(t, res.Addr, "tcp", name, dns.TypeA) // cache hit
	expect(old1, "192.0.2.10")
	expect(old2, "192.0.2.10")
	waitResponses(t, db, 2, 2)
	before, ok := historyMap(history(t, db))[oldKey]
	if !ok || before.Count != 2 {
		t.Fatalf("history before the move: %v, want %v with count 2", history(t, db), oldKey)
	}

	// Move the name; the file plugin re-reads the zone within a second of the new serial.
	corednstest.WriteFileAtomic(t, zonePath, zone(2, "192.0.2.20"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		x, err := query(auth.Addr, "udp", name, dns.TypeA)
		if err == nil && addrOf(x) == "192.0.2.20" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the authoritative server still answers %v (error %v) 10s after the zone changed", x, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let the resolver's one-second cache entry expire, and let more than a second pass
	// between the last old capture (at most captureSlack after old2's answer arrived) and
	// the first new one, so that it falls in a later second: history times are whole
	// seconds on ClickHouse 18.16.
	if d := time.Until(old2.recv.Add(captureSlack + 1100*time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	new1 := mustQuery(t, res.Addr, "udp", name, dns.TypeA)
	new2 := mustQuery(t, res.Addr, "udp", name, dns.TypeA) // cache hit
	expect(new1, "192.0.2.20")
	expect(new2, "192.0.2.20")

	xs := []*exchange{old1, old2, new1, new2}
	waitResponses(t, db, len(xs), len(xs))
	rowOf := checkRows(t, responses(t, db), xs, res.Addr)
	if t.Failed() {
		t.FailNow()
	}
	hist := history(t, db)
	checkHistory(t, hist, xs, rowOf)

	h := historyMap(hist)
	oldH, newH := h[oldKey], h[newKey]
	if len(h) != 2 {
		t.Errorf("history has %d rows, want the old and the new address: %v", len(h), hist)
	}
	if oldH != before {
		t.Errorf("old tuple changed after the move: %v, was %v", oldH, before)
	}
	if newH.Count != 2 || newH.First > newH.Last {
		t.Errorf("new tuple %v: want count 2 and time_first <= time_last", newH)
	}
	// Strictly later: new1 was sent more than a second after old2 was captured.
	if newH.First <= oldH.Last {
		t.Errorf("new tuple's time_first %v is not after the old tuple's time_last %v", newH, oldH)
	}
	if oldH.Last > old2.recv.Add(captureSlack).Unix() || newH.First < new1.sent.Unix() {
		t.Errorf("history times %v, %v outside the queries' times (old answer at %d, new query at %d)",
			oldH, newH, old2.recv.Unix(), new1.sent.Unix())
	}

	byIP := corednstest.Lines(t, ch, "SELECT IPv6NumToString(ip), rrname, toUnixTimestamp(maxMerge(time_last)), countMerge(count) FROM "+db+
		".history_by_ip GROUP BY ip, rrname ORDER BY ip")
	wantByIP := []string{
		fmt.Sprintf("::ffff:192.0.2.10\t%s\t%d\t2", name, oldH.Last),
		fmt.Sprintf("::ffff:192.0.2.20\t%s\t%d\t2", name, newH.Last),
	}
	if !slices.Equal(byIP, wantByIP) {
		t.Errorf("history_by_ip:\n%s\nwant:\n%s", strings.Join(byIP, "\n"), strings.Join(wantByIP, "\n"))
	}
}

// TestReload reloads the resolver with SIGUSR1 (once with a changed Corefile, once
// unchanged) while two clients query without pause, and checks that every answer they
// received is recorded exactly once.
func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	corednstest.WriteFileAtomic(t, filepath.Join(dir, "db.example.org"), zone(1, "192.0.2.10"))
	auth := coredns.Start(t, "auth", dir, authCorefile)
	db := corednstest.Database(t, ch, "e2e_reload")
	res := coredns.Start(t, "resolver", dir, resolverCorefile(db, auth.Addr, "cache", "100ms"))

	var (
		mu     sync.Mutex
		xs     []*exchange
		failed = map[string]error{} // qname: error, for queries without an answer
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for c, transport := range []string{"udp", "tcp"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// A new name each time: every answer is a cache miss and has its own row.
				qname := fmt.Sprintf("c%d-%d.wild.example.org.", c, i)
				x, err := query(res.Addr, transport, qname, dns.TypeA)
				mu.Lock()
				if err != nil {
					failed[qname] = err
				} else {
					xs = append(xs, x)
				}
				mu.Unlock()
			}
		}()
	}
	answers := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(xs)
	}

	time.Sleep(700 * time.Millisecond)
	// A slightly changed Corefile: another flush interval.
	corednstest.WriteFileAtomic(t, res.Corefile, resolverCorefile(db, auth.Addr, "cache", "150ms")(res.Ports))
	n0 := answers()
	res.Signal(t, syscall.SIGUSR1)
	res.WaitOutput(t, "Reloading complete", 1, 20*time.Second)
	time.Sleep(700 * time.Millisecond)
	n1 := answers()
	res.Signal(t, syscall.SIGUSR1) // the same Corefile again
	res.WaitOutput(t, "Reloading complete", 2, 20*time.Second)
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	n2 := len(xs)
	t.Logf("answers: %d before the first reload, %d before the second, %d in all; %d queries unanswered", n0, n1, n2, len(failed))
	if n0 == 0 || n1 == n0 || n2 == n1 {
		t.Fatalf("the clients got no answers in some phase: %d, %d, %d", n0, n1, n2)
	}
	for q, err := range failed {
		t.Logf("unanswered: %s: %v", q, err)
	}
	for _, x := range xs {
		if got := addrOf(x); got != "192.0.2.99" {
			t.Fatalf("%v: got %q, want 192.0.2.99", x, got)
		}
	}

	// A query whose answer was lost (client timeout) may still have a row: the server
	// did write it. Every received answer must have exactly one.
	waitResponses(t, db, len(xs), len(xs)+len(failed))
	rows := responses(t, db)
	var recorded []responseRow
	for _, r := range rows {
		if _, lost := failed[r.Qname]; lost {
			t.Logf("row for an unanswered query: %s", r.response())
			continue
		}
		recorded = append(recorded, r)
	}
	checkRows(t, recorded, xs, res.Addr)
}
