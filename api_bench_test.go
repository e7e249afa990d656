package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/record"

	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The latency benchmark of the history API: load recorded answers (10 million by
// default) through batch.add and clickhouseSink.write, then time each kind of endpoint
// through HTTP and report p50 and p99. It runs only when asked for:
//
//	go test -run - -bench APILatency -benchtime 1x -timeout 2h .
//
// PASSIVEDNS_API_BENCH_ROWS sets the number of responses. TestAPILatencySmall runs the
// same loader and requests on a tiny data set in every test run, so this cannot rot.

// benchWorld is a synthetic resolver's traffic: names under domains with Zipf
// popularity, a share of them behind CNAMEs to CDN edges that many names share, A and
// AAAA answers (some addresses change over the month), MX, TXT, HTTPS, and NXDOMAIN
// for typos.
type benchWorld struct {
	domains int
	names   int // distinct names
	start   time.Time
	span    time.Duration
	zipf    *rand.Zipf
	rnd     *rand.Rand
}

func newBenchWorld(rows int, seed uint64) *benchWorld {
	names := max(rows/20, 100)
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &benchWorld{
		domains: max(names/10, 10),
		names:   names,
		start:   time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		span:    30 * 24 * time.Hour,
		zipf:    rand.NewZipf(rnd, 1.1, 1, uint64(names-1)),
		rnd:     rnd,
	}
}

var benchLabels = []string{"www", "api", "cdn", "mail", "static", "login", "img", "app"}

func (w *benchWorld) domain(i int) string { return fmt.Sprintf("d%d.example.net.", i) }

// name is name number i: a label under domain i % domains.
func (w *benchWorld) name(i int) string {
	l := benchLabels[i%len(benchLabels)]
	if k := i / w.domains / len(benchLabels); k > 0 {
		l = fmt.Sprintf("%s%d", l, k)
	}
	return l + "." + w.domain(i%w.domains)
}

// cdn tells whether name i is a CNAME to an edge, and which (edges are shared).
func (w *benchWorld) cdn(i int) (string, bool) {
	if i%5 != 0 {
		return "", false
	}
	return fmt.Sprintf("e%d.edge.cdn.example.org.", (i/5)%max(w.names/200, 1)), true
}

// addr is the IPv4 address of an owner; moved gives the second address of the names
// that move during the month.
func addrOf(owner string, moved bool) netip.Addr {
	h := uint32(2166136261)
	for i := 0; i < len(owner); i++ {
		h = (h ^ uint32(owner[i])) * 16777619
	}
	if moved {
		h = h*2654435761 + 1
	}
	return netip.AddrFrom4([4]byte{10 + byte(h>>24)%20, byte(h >> 16), byte(h >> 8), byte(h)})
}

func addr6Of(owner string) netip.Addr {
	a := addrOf(owner, false).As4()
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, a[0], a[1], a[2], a[3]})
}

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// response makes one answer at time at.
func (w *benchWorld) response(at time.Time) *dns.Msg {
	i := int(w.zipf.Uint64())
	name := w.name(i)
	m := new(dns.Msg)
	m.Response, m.RecursionDesired, m.RecursionAvailable = true, true, true
	soa := &dns.SOA{Hdr: hdr(w.domain(i%w.domains), dns.TypeSOA, 900), Ns: "ns1." + w.domain(i%w.domains), Mbox: "hostmaster." + w.domain(i%w.domains),
		Serial: 1, Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: 900}
	p := w.rnd.IntN(100)
	moved := i%20 == 0 && at.Sub(w.start) > w.span/2
	switch {
	case p < 6: // a typo: NXDOMAIN
		m.SetQuestion(fmt.Sprintf("x%d%s", w.rnd.IntN(1000), name[strings.IndexByte(name, '.'):]), dns.TypeA)
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{soa}
	case p < 66:
		m.SetQuestion(name, dns.TypeA)
		owner := name
		if edge, ok := w.cdn(i); ok {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME, 300), Target: edge})
			owner = edge
		}
		for k := 0; k < 1+i%3; k++ {
			a := addrOf(owner+strconv.Itoa(k), moved).As4()
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(owner, dns.TypeA, 60), A: net.IP(a[:])})
		}
	case p < 91:
		m.SetQuestion(name, dns.TypeAAAA)
		if i%4 == 0 {
			m.Ns = []dns.RR{soa} // NODATA
			break
		}
		a := addr6Of(name).As16()
		m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, 300), AAAA: net.IP(a[:])})
	case p < 96:
		m.SetQuestion(name, dns.TypeHTTPS)
		m.Answer = append(m.Answer, &dns.HTTPS{SVCB: dns.SVCB{Hdr: hdr(name, dns.TypeHTTPS, 300), Priority: 1, Target: "."}})
	case p < 98:
		d := w.domain(i % w.domains)
		m.SetQuestion(d, dns.TypeMX)
		m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(d, dns.TypeMX, 3600), Preference: 10, Mx: "mx" + strconv.Itoa(i%7) + ".mail.example.org."})
	default:
		m.SetQuestion(name, dns.TypeTXT)
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(name, dns.TypeTXT, 300), Txt: []string{"v=spf1 -all"}})
	}
	m.Id = uint16(w.rnd.Uint32())
	return m
}

// loadBench records rows responses into db through batch.add and clickhouseSink.write,
// preparing the next batch while the previous one is written.
func loadBench(tb testing.TB, cfg config, w *benchWorld, rows int) {
	tb.Helper()
	s := newSink(cfg)
	defer s.Close()
	ctx := context.Background()
	if err := s.Prepare(ctx); err != nil {
		tb.Fatal(err)
	}
	const batchRows = 100000
	type job struct{ b *record.Batch }
	jobs := make(chan job, 1)
	errc := make(chan error, 1)
	go func() {
		var err error
		for j := range jobs {
			if err == nil {
				err = s.Write(ctx, j.b)
			}
		}
		errc <- err
	}()
	d := new(record.Decoder)
	buf := make([]byte, dns.MaxMsgSize)
	step := w.span / time.Duration(rows)
	at := w.start
	started := time.Now()
	for done := 0; done < rows; {
		b := &record.Batch{ID: record.NewBatchID()}
		for ; done < rows && b.Len() < batchRows; done++ {
			m := w.response(at)
			wire, err := m.PackBuffer(buf)
			if err != nil {
				tb.Fatal(err)
			}
			c := record.Capture{Wire: wire, Time: at, Elapsed: 300 * time.Microsecond, Server: "dns://:53", Transport: "udp", Size: uint32(len(wire))}
			if err := b.Add(&c, d, cfg.sensor); err != nil {
				tb.Fatal(err)
			}
			at = at.Add(step)
		}
		jobs <- job{b}
		if rows >= 1000000 && done%1000000 < batchRows {
			tb.Logf("loaded %d of %d responses in %v", done, rows, time.Since(started).Round(time.Second))
		}
	}
	close(jobs)
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	tb.Logf("loaded %d responses in %v", rows, time.Since(started).Round(time.Millisecond))
}

// benchKind is one kind of request: a name and a function that gives the i-th URL (and
// body, for POST).
type benchKind struct {
	name string
	req  func(i int) (method, path, body string)
}

func benchKinds(w *benchWorld, rnd *rand.Rand) []benchKind {
	pick := func() int { return int(rnd.Uint64N(uint64(w.names))) }
	popular := func() int { return int(w.zipf.Uint64()) }
	get := func(p string) (string, string, string) { return "GET", p, "" }
	addr := func() netip.Addr {
		i := pick()
		owner := w.name(i)
		if edge, ok := w.cdn(i); ok {
			owner = edge
		}
		return addrOf(owner+"0", false)
	}
	return []benchKind{
		{"name", func(int) (string, string, string) { return get("/api/v1/name/" + w.name(pick())) }},
		{"name_popular", func(int) (string, string, string) { return get("/api/v1/name/" + w.name(popular())) }},
		{"name_wildcard", func(int) (string, string, string) {
			return get("/api/v1/name/*." + strings.TrimSuffix(w.domain(pick()%w.domains), ".") + "?limit=100")
		}},
		{"ip", func(int) (string, string, string) { return get("/api/v1/ip/" + addr().String()) }},
		{"ip_cidr24", func(int) (string, string, string) {
			return get("/api/v1/ip/" + netip.PrefixFrom(addr(), 24).Masked().String() + "?limit=100")
		}},
		{"rdata", func(int) (string, string, string) {
			e, _ := w.cdn(pick() / 5 * 5)
			return get("/api/v1/rdata/" + e + "?limit=100")
		}},
		{"negative", func(int) (string, string, string) {
			return get("/api/v1/negative/*." + strings.TrimSuffix(w.domain(pick()%w.domains), ".") + "?limit=100")
		}},
		{"asof", func(int) (string, string, string) {
			t := w.start.Add(time.Duration(rnd.Int64N(int64(w.span))))
			return get("/api/v1/asof/" + w.name(popular()) + "?at=" + t.Format(time.RFC3339))
		}},
		{"pivot", func(int) (string, string, string) { return get("/api/v1/pivot/" + w.name(pick()) + "?limit=50") }},
		{"bulk100", func(int) (string, string, string) {
			var b strings.Builder
			for range 100 {
				b.WriteString(w.name(pick()) + "\n")
			}
			return "POST", "/api/v1/bulk?limit=10", b.String()
		}},
		{"dnsdb_rrset", func(int) (string, string, string) { return get("/dnsdb/v2/lookup/rrset/name/" + w.name(popular())) }},
		{"dnsdb_rdata_ip24", func(int) (string, string, string) {
			p := netip.PrefixFrom(addr(), 24).Masked()
			return get(fmt.Sprintf("/dnsdb/v2/lookup/rdata/ip/%s,24?limit=100", p.Addr()))
		}},
		{"dnsdb_summarize", func(int) (string, string, string) {
			return get("/dnsdb/v2/summarize/rrset/name/*." + strings.TrimSuffix(w.domain(pick()%w.domains), "."))
		}},
		{"cof", func(int) (string, string, string) { return get("/pdns/query/" + w.name(pick())) }},
	}
}

// benchLatencies runs n requests of each kind one after another and returns the sorted
// latencies per kind.
func benchLatencies(tb testing.TB, base string, kinds []benchKind, n int) map[string][]time.Duration {
	tb.Helper()
	out := map[string][]time.Duration{}
	client := &http.Client{Timeout: time.Minute}
	for _, k := range kinds {
		for i := range n {
			method, path, body := k.req(i)
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				tb.Fatalf("%s %s: %v", k.name, path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 {
				tb.Fatalf("%s %s: %d %s", k.name, path, resp.StatusCode, b)
			}
			out[k.name] = append(out[k.name], d)
		}
		sort.Slice(out[k.name], func(i, j int) bool { return out[k.name][i] < out[k.name][j] })
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func benchConfig(tb testing.TB, db string) config {
	dsn := testCH(tb).DSN(db)
	opts, parsed, err := parseDSN(dsn)
	if err != nil || parsed != db {
		tb.Fatalf("parseDSN(%s): %v", dsn, err)
	}
	return config{dsn: dsn, options: opts, database: db, batch: 100000, flush: time.Second, queue: 100000, sensor: "bench", schema: true}
}

func BenchmarkAPILatency(b *testing.B) {
	rows := 10000000
	if s := os.Getenv("PASSIVEDNS_API_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("PASSIVEDNS_API_BENCH_ROWS=%q: want a number of at least 1000", s)
		}
		rows = n
	}
	requests := 200
	db := fmt.Sprintf("apibench_%d", rows)
	cfg := benchConfig(b, db)
	w := newBenchWorld(rows, 1)
	var have uint64
	if n, err := testCH(b).Query("SELECT count() FROM `" + db + "`.responses"); err == nil {
		have, _ = strconv.ParseUint(strings.TrimSpace(n), 10, 64)
	}
	if have < uint64(rows) {
		testCH(b).Query("DROP DATABASE IF EXISTS `" + db + "`")
		loadBench(b, cfg, w, rows)
	} else {
		b.Logf("reusing %d responses in %s", have, db)
	}
	for _, t := range []string{"responses", "history_by_name", "history_by_ip", "history_by_rdata"} {
		out, _ := testCH(b).Query(fmt.Sprintf("SELECT count(), sum(rows), formatReadableSize(sum(bytes)) FROM system.parts WHERE active AND database = '%s' AND table = '%s'", db, t))
		b.Logf("%s: parts, rows, bytes: %s", t, strings.TrimSpace(out))
	}
	a := newAPI(cfg, httpapi.Config{Addr: "127.0.0.1:0"})
	a.Now = func() time.Time { return w.start.Add(w.span) }
	if err := a.OnStartup(); err != nil {
		b.Fatal(err)
	}
	defer a.OnShutdown()
	kinds := benchKinds(newBenchWorld(rows, 2), rand.New(rand.NewPCG(3, 4)))
	benchLatencies(b, "http://"+a.Addr(), kinds, 3) // warm up
	b.ResetTimer()
	var lat map[string][]time.Duration
	for range b.N {
		lat = benchLatencies(b, "http://"+a.Addr(), kinds, requests)
	}
	b.StopTimer()
	var report strings.Builder
	fmt.Fprintf(&report, "API latency over %d recorded responses, %d sequential requests per kind:\n%-18s %10s %10s %10s\n", rows, requests, "kind", "p50", "p99", "max")
	for _, k := range kinds {
		d := lat[k.name]
		p50, p99 := percentile(d, 0.5), percentile(d, 0.99)
		b.ReportMetric(float64(p50.Microseconds())/1000, k.name+"-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, k.name+"-p99-ms")
		fmt.Fprintf(&report, "%-18s %10s %10s %10s\n", k.name, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
	}
	// Printed, not logged: the testing package cuts long benchmark logs.
	fmt.Print(report.String())
}

// TestAPILatencySmall is BenchmarkAPILatency on 20,000 responses and a few requests per
// kind: the loader and every request kind keep working.
func TestAPILatencySmall(t *testing.T) {
	const rows = 20000
	db := testCH(t).TestDB(t)
	cfg := benchConfig(t, db)
	w := newBenchWorld(rows, 1)
	loadBench(t, cfg, w, rows)
	if n := testCH(t).Count(t, "SELECT count() FROM `"+db+"`.responses"); n != rows {
		t.Fatalf("%d responses, want %d", n, rows)
	}
	a := newAPI(cfg, httpapi.Config{Addr: "127.0.0.1:0"})
	a.Now = func() time.Time { return w.start.Add(w.span) }
	if err := a.OnStartup(); err != nil {
		t.Fatal(err)
	}
	defer a.OnShutdown()
	kinds := benchKinds(newBenchWorld(rows, 2), rand.New(rand.NewPCG(3, 4)))
	lat := benchLatencies(t, "http://"+a.Addr(), kinds, 3)
	if len(lat) != len(kinds) {
		t.Fatalf("%d kinds measured, want %d", len(lat), len(kinds))
	}
	// The requests find data: the popular names are there.
	resp, err := http.Get("http://" + a.Addr() + "/api/v1/name/" + w.name(1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"rrname":"`+w.name(1)+`"`) {
		t.Errorf("name %s not found: %s", w.name(1), body)
	}
}
