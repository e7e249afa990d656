package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/record"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// Tests of the history API against the ClickHouse server TestMain started, filled through
// the recording path: ServeDNS → recorder → writer queue → batch.add → clickhouseSink.write.
// The only thing replaced is the clock: clockSink stamps each recorded response with the
// scenario's time for it, so that the history spans days and the results are exact.

// clockSink gives the rows of each batch the next times of a queue, in capture order,
// then writes them with the real sink.
type clockSink struct {
	sink
	mu      sync.Mutex
	times   []time.Time
	done    map[uint64]bool
	batches []*record.Batch // as written, for replaying them elsewhere (chDB)
}

func (s *clockSink) push(t time.Time) {
	s.mu.Lock()
	s.times = append(s.times, t)
	s.mu.Unlock()
}

func (s *clockSink) Write(ctx context.Context, b *record.Batch) error {
	s.mu.Lock()
	if !s.done[b.ID] {
		s.done[b.ID] = true
		for i := range b.Len() {
			if len(s.times) == 0 {
				s.mu.Unlock()
				return fmt.Errorf("clockSink: no time for row %d", i)
			}
			t := s.times[0].UTC()
			s.times = s.times[1:]
			blk, row := b.Block(i)
			blk.Time.Set(row, t)
		}
		s.batches = append(s.batches, b)
	}
	s.mu.Unlock()
	return s.sink.Write(ctx, b)
}

// recording is a PassiveDNS in front of an answering handler, writing into db on testCH(t).t).
type recording struct {
	t      *testing.T
	db     string
	cfg    config
	p      *PassiveDNS
	clock  *clockSink
	answer map[string]*dns.Msg // by qname and qtype, "www.example.net./A"
}

func newRecording(t *testing.T) *recording {
	t.Helper()
	db := testCH(t).TestDB(t)
	cfg := chConfig(t, db)
	cfg.batch, cfg.flush, cfg.queue = 5000, 20*time.Millisecond, 100000
	rec := &recording{t: t, db: db, cfg: cfg, answer: map[string]*dns.Msg{}}
	rec.clock = &clockSink{sink: newSink(cfg), done: map[uint64]bool{}}
	rec.p = &PassiveDNS{cfg: cfg, writer: newWriter(cfg, rec.clock)}
	rec.p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		q := r.Question[0]
		m, ok := rec.answer[strings.ToLower(q.Name)+"/"+dns.TypeToString[q.Qtype]]
		if !ok {
			return dns.RcodeServerFailure, fmt.Errorf("no answer for %v", q)
		}
		m = m.Copy()
		m.SetReply(r)
		m.Rcode = rec.answer[strings.ToLower(q.Name)+"/"+dns.TypeToString[q.Qtype]].Rcode
		w.WriteMsg(m)
		return m.Rcode, nil
	})
	if err := rec.p.writer.start(); err != nil {
		t.Fatalf("writer start: %v", err)
	}
	t.Cleanup(func() { rec.p.writer.stop() })
	return rec
}

// set makes qname/qtype answer with rcode and the records (zone file lines); authority
// records are those whose type is SOA.
func (r *recording) set(qname string, qtype uint16, rcode int, rrs ...string) {
	r.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Rcode = rcode
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			r.t.Fatalf("%q: %v", s, err)
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			m.Ns = append(m.Ns, rr)
		} else {
			m.Answer = append(m.Answer, rr)
		}
	}
	r.answer[strings.ToLower(qname)+"/"+dns.TypeToString[qtype]] = m
}

// ask sends a query through ServeDNS at scenario time at.
func (r *recording) ask(at time.Time, qname string, qtype uint16) {
	r.t.Helper()
	r.clock.push(at)
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	rw := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := r.p.ServeDNS(context.Background(), rw, q); err != nil {
		r.t.Fatalf("ServeDNS %s: %v", qname, err)
	}
}

// flush waits until everything asked is in ClickHouse.
func (r *recording) flush() {
	r.t.Helper()
	if err := r.p.writer.stop(); err != nil {
		r.t.Fatalf("writer stop: %v", err)
	}
	r.clock.mu.Lock()
	left := len(r.clock.times)
	r.clock.mu.Unlock()
	if left != 0 {
		r.t.Fatalf("%d recorded responses did not reach ClickHouse", left)
	}
	if err := r.p.writer.start(); err != nil {
		r.t.Fatalf("writer start: %v", err)
	}
}

// apiClient is an httpAPI listening on a free loopback port.
type apiClient struct {
	t    *testing.T
	api  *httpapi.Server
	base string
	hdr  http.Header
}

func startAPI(t *testing.T, cfg config, hc httpapi.Config, now time.Time, opts ...func(*httpapi.Server)) *apiClient {
	t.Helper()
	if hc.Addr == "" {
		hc.Addr = "127.0.0.1:0"
	}
	a := newAPI(cfg, hc)
	a.Now = func() time.Time { return now }
	for _, o := range opts { // before the listener starts: handlers read these fields
		o(a)
	}
	if err := a.OnStartup(); err != nil {
		t.Fatalf("OnStartup: %v", err)
	}
	t.Cleanup(func() { a.OnShutdown() })
	scheme := "http"
	if hc.CertFile != "" {
		scheme = "https"
	}
	return &apiClient{t: t, api: a, base: scheme + "://" + a.Addr(), hdr: http.Header{}}
}

type apiResponse struct {
	status int
	header http.Header
	body   string
}

func (c *apiClient) do(method, path string, hdr http.Header, body io.Reader) apiResponse {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return apiResponse{resp.StatusCode, resp.Header, string(b)}
}

func (c *apiClient) get(path string) apiResponse {
	c.t.Helper()
	return c.do("GET", path, nil, nil)
}

// expect checks status and exact body.
func (c *apiClient) expect(path string, status int, body string) apiResponse {
	c.t.Helper()
	r := c.get(path)
	if r.status != status || r.body != body {
		c.t.Errorf("GET %s:\n got %d\n%s\n want %d\n%s", path, r.status, r.body, status, body)
	}
	return r
}

// lines joins JSON lines with newlines, each ending in one.
func lines(ls ...string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// The scenario: times in UTC, November 2026.
var (
	scT0 = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	scT1 = scT0.Add(24 * time.Hour)
	scT2 = scT1.Add(24 * time.Hour)
	// scNow is "now" for the API (relative times).
	scNow = scT2.Add(time.Hour)
)

func at(base time.Time, sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// recordScenario records: a name that moves between addresses (evil), two names sharing
// an address (evil and shared on 192.0.2.2), a CNAME chain (www → cdn), an NXDOMAIN (nx),
// a NODATA (nodata), IPv6 (v6), a wildcard set (*.wild), and an MX target.
func recordScenario(t *testing.T) *recording {
	r := newRecording(t)
	A, AAAA, MX := dns.TypeA, dns.TypeAAAA, dns.TypeMX
	soa := "example.net. 900 IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"
	r.set("evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	r.ask(scT0, "evil.example.net.", A)
	r.set("www.example.net.", A, dns.RcodeSuccess, "www.example.net. 60 IN CNAME cdn.example.net.", "cdn.example.net. 300 IN A 198.51.100.7")
	r.ask(at(scT0, 30), "www.example.net.", A)
	r.set("nx.example.net.", A, dns.RcodeNameError, soa)
	r.ask(at(scT0, 40), "nx.example.net.", A)
	r.set("v6.example.net.", AAAA, dns.RcodeSuccess, "v6.example.net. 3600 IN AAAA 2001:db8::1")
	r.ask(at(scT0, 50), "v6.example.net.", AAAA)
	r.ask(at(scT0, 60), "evil.example.net.", A)
	for i, l := range []string{"a", "b", "c"} {
		n := l + ".wild.example.net."
		r.set(n, A, dns.RcodeSuccess, fmt.Sprintf("%s 300 IN A 203.0.113.%d", n, i+1))
		r.ask(at(scT0, 70+i), n, A)
	}
	r.set("example.net.", MX, dns.RcodeSuccess, "example.net. 3600 IN MX 10 Mail.Example.NET.")
	r.ask(at(scT0, 80), "example.net.", MX)
	r.set("evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.2")
	r.ask(scT1, "evil.example.net.", A)
	r.set("shared.example.net.", A, dns.RcodeSuccess, "shared.example.net. 600 IN A 192.0.2.2")
	r.ask(at(scT1, 120), "shared.example.net.", A)
	r.set("nodata.example.net.", AAAA, dns.RcodeSuccess, soa)
	r.ask(at(scT1, 300), "nodata.example.net.", AAAA)
	r.ask(scT2, "evil.example.net.", A)
	r.flush()
	return r
}

// TestAPIScenario checks every endpoint's exact answer on the scenario.
func TestAPIScenario(t *testing.T) {
	r := recordScenario(t)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	done := `{"done":true,"count":%d}`
	n := func(k int) string { return fmt.Sprintf(done, k) }

	// Name history.
	evil1 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`
	evil2 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2","time_first":"2026-11-04T10:00:00Z","time_last":"2026-11-05T10:00:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`
	c.expect("/api/v1/name/evil.example.net", 200, lines(evil1, evil2, n(2)))
	c.expect("/api/v1/name/EVIL.example.net.?rrtype=A", 200, lines(evil1, evil2, n(2)))
	c.expect("/api/v1/name/evil.example.net?rrtype=AAAA,MX", 200, lines(n(0)))
	c.expect("/api/v1/name/evil.example.net?from=2026-11-04T00:00:00Z", 200, lines(evil2, n(1)))
	c.expect("/api/v1/name/evil.example.net?to=2026-11-03T23:00:00Z", 200, lines(evil1, n(1)))
	c.expect("/api/v1/name/evil.example.net?from=-90000", 200, lines(evil2, n(1))) // 25 h before scNow
	// Strict: seen only inside the window.
	c.expect("/api/v1/name/evil.example.net?from=2026-11-03T00:00:00Z&to=2026-11-04T12:00:00Z&window=strict", 200, lines(evil1, n(1)))
	c.expect("/api/v1/name/evil.example.net?from=2026-11-03T00:00:00Z&to=2026-11-04T12:00:00Z", 200, lines(evil1, evil2, n(2)))
	c.expect("/api/v1/name/evil.example.net?from=2026-11-03T10:00:30Z&window=strict", 200, lines(evil2, n(1)))
	c.expect("/api/v1/name/evil.example.net?from=-25h", 200, lines(evil2, n(1)))
	wildA := `{"rrname":"a.wild.example.net.","rrtype":"A","rdata":"203.0.113.1","time_first":"2026-11-03T10:01:10Z","time_last":"2026-11-03T10:01:10Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`
	wildB := `{"rrname":"b.wild.example.net.","rrtype":"A","rdata":"203.0.113.2","time_first":"2026-11-03T10:01:11Z","time_last":"2026-11-03T10:01:11Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`
	wildC := `{"rrname":"c.wild.example.net.","rrtype":"A","rdata":"203.0.113.3","time_first":"2026-11-03T10:01:12Z","time_last":"2026-11-03T10:01:12Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`
	c.expect("/api/v1/name/*.wild.example.net", 200, lines(wildA, wildB, wildC, n(3)))
	c.expect("/api/v1/name/b.wild.*", 200, lines(wildB, n(1)))
	mx := `{"rrname":"example.net.","rrtype":"MX","rdata":"10 mail.example.net.","time_first":"2026-11-03T10:01:20Z","time_last":"2026-11-03T10:01:20Z","count":1,"sensors":["sensor-1"],"ttl_min":3600,"ttl_max":3600}`
	c.expect("/api/v1/name/example.net", 200, lines(mx, n(1)))

	// Page through the wildcard set.
	p1 := c.get("/api/v1/name/*.wild.example.net?limit=2")
	ls := strings.Split(strings.TrimSpace(p1.body), "\n")
	if len(ls) != 3 || ls[0] != wildA || ls[1] != wildB {
		t.Fatalf("first page: %s", p1.body)
	}
	var tr httpapi.NativeTrailer
	if err := json.Unmarshal([]byte(ls[2]), &tr); err != nil || tr.Cursor == "" || tr.Count != 2 {
		t.Fatalf("trailer %s: %v", ls[2], err)
	}
	c.expect("/api/v1/name/*.wild.example.net?limit=2&cursor="+tr.Cursor, 200, lines(wildC, n(1)))
	// The cursor belongs to its query.
	r2 := c.get("/api/v1/name/*.wild.example.net?limit=2&rrtype=A&cursor=" + tr.Cursor)
	if r2.status != 400 || !strings.Contains(r2.body, `"parameter":"cursor"`) {
		t.Errorf("cursor of another query: %d %s", r2.status, r2.body)
	}

	// Addresses, prefixes and ranges, with the names whose CNAME chain ended there.
	e1 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300,"aliases":[]}`
	e2 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2","time_first":"2026-11-04T10:00:00Z","time_last":"2026-11-05T10:00:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300,"aliases":[]}`
	sh := `{"rrname":"shared.example.net.","rrtype":"A","rdata":"192.0.2.2","time_first":"2026-11-04T10:02:00Z","time_last":"2026-11-04T10:02:00Z","count":1,"sensors":["sensor-1"],"ttl_min":600,"ttl_max":600,"aliases":[]}`
	c.expect("/api/v1/ip/192.0.2.2", 200, lines(e2, sh, n(2)))
	c.expect("/api/v1/ip/192.0.2.0/24", 200, lines(e1, e2, sh, n(3)))
	c.expect("/api/v1/ip/192.0.2.0/24?from=2026-11-04T10:01:00Z", 200, lines(e2, sh, n(2)))
	c.expect("/api/v1/ip/192.0.2.1-192.0.2.1", 200, lines(e1, n(1)))
	cdn := `{"rrname":"cdn.example.net.","rrtype":"A","rdata":"198.51.100.7","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300,` +
		`"aliases":[{"rrname":"www.example.net.","chain":["www.example.net.","cdn.example.net."],"time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1}]}`
	c.expect("/api/v1/ip/198.51.100.7", 200, lines(cdn, n(1)))
	c.expect("/api/v1/ip/198.51.100.7?aliases=false", 200, lines(
		`{"rrname":"cdn.example.net.","rrtype":"A","rdata":"198.51.100.7","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`, n(1)))
	v6 := `{"rrname":"v6.example.net.","rrtype":"AAAA","rdata":"2001:db8::1","time_first":"2026-11-03T10:00:50Z","time_last":"2026-11-03T10:00:50Z","count":1,"sensors":["sensor-1"],"ttl_min":3600,"ttl_max":3600,"aliases":[]}`
	c.expect("/api/v1/ip/2001:db8::/32", 200, lines(v6, n(1)))
	c.expect("/api/v1/ip/2001:db8::1", 200, lines(v6, n(1)))
	c.expect("/api/v1/ip/203.0.113.2-203.0.113.3?aliases=false", 200, lines(
		strings.TrimSuffix(wildB, "}")+"}", strings.TrimSuffix(wildC, "}")+"}", n(2)))

	// Record data that names a name.
	www := `{"rrname":"www.example.net.","rrtype":"CNAME","rdata":"cdn.example.net.","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1,"sensors":["sensor-1"],"ttl_min":60,"ttl_max":60}`
	c.expect("/api/v1/rdata/cdn.example.net", 200, lines(www, n(1)))
	c.expect("/api/v1/rdata/mail.example.net", 200, lines(mx, n(1)))
	c.expect("/api/v1/rdata/*.example.net", 200, lines(mx, www, n(2))) // by reversed target: mail < cdn

	// Negative answers.
	nx := `{"qname":"nx.example.net.","qtype":"A","rcode":"NXDOMAIN","negative":"NXDOMAIN","time_first":"2026-11-03T10:00:40Z","time_last":"2026-11-03T10:00:40Z","count":1,"sensors":["sensor-1"],"soa":{"rrname":"example.net.","ttl":900,"rdata":"ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"}}`
	nodata := `{"qname":"nodata.example.net.","qtype":"AAAA","rcode":"NOERROR","negative":"NODATA","time_first":"2026-11-04T10:05:00Z","time_last":"2026-11-04T10:05:00Z","count":1,"sensors":["sensor-1"],"soa":{"rrname":"example.net.","ttl":900,"rdata":"ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"}}`
	c.expect("/api/v1/negative/nx.example.net", 200, lines(nx, n(1)))
	c.expect("/api/v1/negative/*.example.net", 200, lines(nodata, nx, n(2)))
	c.expect("/api/v1/negative/*.example.net?from=2026-11-04T00:00:00Z", 200, lines(nodata, n(1)))
	c.expect("/api/v1/negative/evil.example.net", 200, lines(n(0)))

	// As-of at several instants.
	asof := func(name, at, answers string) {
		t.Helper()
		c.expect("/api/v1/asof/"+name+"?at="+at, 200, fmt.Sprintf(`{"name":"%s","at":"%s","answers":[%s]}`+"\n", name, at, answers))
	}
	ev := func(answered string, until string, covers bool, ip string) string {
		return fmt.Sprintf(`{"qtype":"A","rcode":"NOERROR","answered_at":"%s","ttl":300,"valid_until":"%s","covers":%v,"chain":["evil.example.net."],`+
			`"final":[{"rrname":"evil.example.net.","rrtype":"A","ttl":300,"rdata":"%s"}],"records":[{"rrname":"evil.example.net.","rrtype":"A","ttl":300,"rdata":"%s"}]}`,
			answered, until, covers, ip, ip)
	}
	asof("evil.example.net.", "2026-11-03T09:59:59Z", "")
	asof("evil.example.net.", "2026-11-03T10:00:00Z", ev("2026-11-03T10:00:00.000Z", "2026-11-03T10:05:00Z", true, "192.0.2.1"))
	asof("evil.example.net.", "2026-11-03T10:03:00Z", ev("2026-11-03T10:01:00.000Z", "2026-11-03T10:06:00Z", true, "192.0.2.1"))
	asof("evil.example.net.", "2026-11-03T12:00:00Z", ev("2026-11-03T10:01:00.000Z", "2026-11-03T10:06:00Z", false, "192.0.2.1"))
	asof("evil.example.net.", "2026-11-04T10:04:59Z", ev("2026-11-04T10:00:00.000Z", "2026-11-04T10:05:00Z", true, "192.0.2.2"))
	asof("evil.example.net.", "2026-11-06T00:00:00Z", ev("2026-11-05T10:00:00.000Z", "2026-11-05T10:05:00Z", false, "192.0.2.2"))
	asof("www.example.net.", "2026-11-03T10:01:00Z", `{"qtype":"A","rcode":"NOERROR","answered_at":"2026-11-03T10:00:30.000Z","ttl":60,"valid_until":"2026-11-03T10:01:30Z","covers":true,`+
		`"chain":["www.example.net.","cdn.example.net."],"final":[{"rrname":"cdn.example.net.","rrtype":"A","ttl":300,"rdata":"198.51.100.7"}],`+
		`"records":[{"rrname":"www.example.net.","rrtype":"CNAME","ttl":60,"rdata":"cdn.example.net."},{"rrname":"cdn.example.net.","rrtype":"A","ttl":300,"rdata":"198.51.100.7"}]}`)
	asof("nx.example.net.", "2026-11-03T10:10:00Z", `{"qtype":"A","rcode":"NXDOMAIN","answered_at":"2026-11-03T10:00:40.000Z","ttl":900,"valid_until":"2026-11-03T10:15:40Z","covers":true,`+
		`"chain":["nx.example.net."],"final":[],"records":[]}`)

	// Pivot: the addresses of evil in a window, and who else was there.
	pv := c.get("/api/v1/pivot/evil.example.net?from=2026-11-03T00:00:00Z&to=2026-11-06T00:00:00Z")
	wantPivot := `{"name":"evil.example.net.","from":"2026-11-03T00:00:00Z","to":"2026-11-06T00:00:00Z","nodes":[` +
		`{"id":"ip:192.0.2.1","kind":"ip","value":"192.0.2.1"},{"id":"ip:192.0.2.2","kind":"ip","value":"192.0.2.2"},` +
		`{"id":"name:evil.example.net.","kind":"name","value":"evil.example.net."},{"id":"name:shared.example.net.","kind":"name","value":"shared.example.net."}],"edges":[` +
		`{"from":"name:evil.example.net.","to":"ip:192.0.2.1","rrtype":"A","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","count":2},` +
		`{"from":"name:evil.example.net.","to":"ip:192.0.2.2","rrtype":"A","time_first":"2026-11-04T10:00:00Z","time_last":"2026-11-05T10:00:00Z","count":2},` +
		`{"from":"name:shared.example.net.","to":"ip:192.0.2.2","rrtype":"A","time_first":"2026-11-04T10:02:00Z","time_last":"2026-11-04T10:02:00Z","count":1}],"truncated":false}` + "\n"
	if pv.status != 200 || pv.body != wantPivot {
		t.Errorf("pivot:\n got %d %s\nwant %s", pv.status, pv.body, wantPivot)
	}
	// Before the move, only the first address, and nobody shares it.
	c.expect("/api/v1/pivot/evil.example.net?from=2026-11-03T00:00:00Z&to=2026-11-03T23:59:59Z", 200,
		`{"name":"evil.example.net.","from":"2026-11-03T00:00:00Z","to":"2026-11-03T23:59:59Z","nodes":[`+
			`{"id":"ip:192.0.2.1","kind":"ip","value":"192.0.2.1"},{"id":"name:evil.example.net.","kind":"name","value":"evil.example.net."}],"edges":[`+
			`{"from":"name:evil.example.net.","to":"ip:192.0.2.1","rrtype":"A","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","count":2}],"truncated":false}`+"\n")
	// Through a CNAME.
	c.expect("/api/v1/pivot/www.example.net", 200,
		`{"name":"www.example.net.","nodes":[{"id":"ip:198.51.100.7","kind":"ip","value":"198.51.100.7"},`+
			`{"id":"name:cdn.example.net.","kind":"name","value":"cdn.example.net."},{"id":"name:www.example.net.","kind":"name","value":"www.example.net."}],"edges":[`+
			`{"from":"name:cdn.example.net.","to":"ip:198.51.100.7","rrtype":"A","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1},`+
			`{"from":"name:www.example.net.","to":"name:cdn.example.net.","rrtype":"CNAME","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1}],"truncated":false}`+"\n")

	// From the CDN name: the query name whose chain ended there is in the graph.
	c.expect("/api/v1/pivot/cdn.example.net", 200,
		`{"name":"cdn.example.net.","nodes":[{"id":"ip:198.51.100.7","kind":"ip","value":"198.51.100.7"},`+
			`{"id":"name:cdn.example.net.","kind":"name","value":"cdn.example.net."},{"id":"name:www.example.net.","kind":"name","value":"www.example.net."}],"edges":[`+
			`{"from":"name:cdn.example.net.","to":"ip:198.51.100.7","rrtype":"A","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1},`+
			`{"from":"name:www.example.net.","to":"name:cdn.example.net.","rrtype":"CNAME","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1}],"truncated":false}`+"\n")
	c.expect("/api/v1/pivot/cdn.example.net?aliases=false", 200,
		`{"name":"cdn.example.net.","nodes":[{"id":"ip:198.51.100.7","kind":"ip","value":"198.51.100.7"},{"id":"name:cdn.example.net.","kind":"name","value":"cdn.example.net."}],"edges":[`+
			`{"from":"name:cdn.example.net.","to":"ip:198.51.100.7","rrtype":"A","time_first":"2026-11-03T10:00:30Z","time_last":"2026-11-03T10:00:30Z","count":1}],"truncated":false}`+"\n")

	// Bulk.
	bulk := c.do("POST", "/api/v1/bulk?limit=1", nil, strings.NewReader("evil.example.net\n{\"input\":\"192.0.2.2\"}\nnot..a..name\n*.wild.example.net\nnothing.example.net\n"))
	wantBulk := lines(
		`{"input":"evil.example.net","index":0,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`,
		`{"input":"evil.example.net","index":0,"done":true,"count":1,"limited":true}`,
		`{"input":"192.0.2.2","index":1,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2","time_first":"2026-11-04T10:00:00Z","time_last":"2026-11-05T10:00:00Z","count":2,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`,
		`{"input":"192.0.2.2","index":1,"done":true,"count":1,"limited":true}`,
		`{"input":"not..a..name","index":2,"done":false,"count":0,"limited":false,"error":"input: not a domain name in presentation format","parameter":"input"}`,
		`{"input":"*.wild.example.net","index":3,"rrname":"a.wild.example.net.","rrtype":"A","rdata":"203.0.113.1","time_first":"2026-11-03T10:01:10Z","time_last":"2026-11-03T10:01:10Z","count":1,"sensors":["sensor-1"],"ttl_min":300,"ttl_max":300}`,
		`{"input":"*.wild.example.net","index":3,"done":true,"count":1,"limited":true}`,
		`{"input":"nothing.example.net","index":4,"done":true,"count":0,"limited":false}`,
		`{"done":true,"count":5}`)
	if bulk.status != 200 || bulk.body != wantBulk {
		t.Errorf("bulk:\n got %d\n%s\nwant\n%s", bulk.status, bulk.body, wantBulk)
	}

	// DNSDB.
	begin, ok, limited := `{"cond":"begin"}`, `{"cond":"succeeded"}`, `{"cond":"limited","msg":"Result limit reached"}`
	d1 := `{"obj":{"count":2,"time_first":1793700000,"time_last":1793700060,"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.1"]}}`
	d2 := `{"obj":{"count":2,"time_first":1793786400,"time_last":1793872800,"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.2"]}}`
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net", 200, lines(begin, d1, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net/A", 200, lines(begin, d1, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net/ANY/example.net", 200, lines(begin, d1, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net/ANY/other.example", 200, lines(begin, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net/AAAA", 200, lines(begin, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?limit=1", 200, lines(begin, d1, limited))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?limit=1&offset=1", 200, lines(begin, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?time_last_after=1793786000", 200, lines(begin, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?time_first_before=1793700000", 200, lines(begin, d1, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?time_last_before=-86400", 200, lines(begin, d1, ok)) // a day before scNow
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?time_first_after=1793700001&time_last_before=1793872800", 200, lines(begin, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/raw/046576696c076578616d706c65036e657400", 200, lines(begin, d1, d2, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?humantime=true&limit=1", 200, lines(begin,
		`{"obj":{"count":2,"time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-03T10:01:00Z","rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.1"]}}`, limited))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?aggr=false", 200, lines(begin,
		`{"obj":{"count":2,"time_first":1793700000,"time_last":1793700060,"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.1"]}}`,
		`{"obj":{"count":1,"time_first":1793786400,"time_last":1793786400,"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.2"]}}`,
		`{"obj":{"count":1,"time_first":1793872800,"time_last":1793872800,"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.2"]}}`, ok))
	c.expect("/dnsdb/v2/summarize/rrset/name/evil.example.net", 200, lines(begin,
		`{"obj":{"count":4,"num_results":2,"time_first":1793700000,"time_last":1793872800}}`, ok))
	c.expect("/dnsdb/v2/summarize/rrset/name/*.wild.example.net", 200, lines(begin,
		`{"obj":{"count":3,"num_results":3,"time_first":1793700070,"time_last":1793700072}}`, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/*.wild.example.net?limit=2", 200, lines(begin,
		`{"obj":{"count":1,"time_first":1793700070,"time_last":1793700070,"rrname":"a.wild.example.net.","rrtype":"A","rdata":["203.0.113.1"]}}`,
		`{"obj":{"count":1,"time_first":1793700071,"time_last":1793700071,"rrname":"b.wild.example.net.","rrtype":"A","rdata":["203.0.113.2"]}}`, limited))
	c.expect("/dnsdb/v2/lookup/rrset/name/c.wild.*", 200, lines(begin,
		`{"obj":{"count":1,"time_first":1793700072,"time_last":1793700072,"rrname":"c.wild.example.net.","rrtype":"A","rdata":["203.0.113.3"]}}`, ok))
	ip1 := `{"obj":{"count":2,"time_first":1793700000,"time_last":1793700060,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1"}}`
	ip2 := `{"obj":{"count":2,"time_first":1793786400,"time_last":1793872800,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2"}}`
	ip3 := `{"obj":{"count":1,"time_first":1793786520,"time_last":1793786520,"rrname":"shared.example.net.","rrtype":"A","rdata":"192.0.2.2"}}`
	c.expect("/dnsdb/v2/lookup/rdata/ip/192.0.2.2", 200, lines(begin, ip2, ip3, ok))
	c.expect("/dnsdb/v2/lookup/rdata/ip/192.0.2.0,24", 200, lines(begin, ip1, ip2, ip3, ok))
	c.expect("/dnsdb/v2/lookup/rdata/ip/192.0.2.1-192.0.2.2?limit=2", 200, lines(begin, ip1, ip2, limited))
	c.expect("/dnsdb/v2/lookup/rdata/ip/2001:db8::,32", 200, lines(begin,
		`{"obj":{"count":1,"time_first":1793700050,"time_last":1793700050,"rrname":"v6.example.net.","rrtype":"AAAA","rdata":"2001:db8::1"}}`, ok))
	c.expect("/dnsdb/v2/lookup/rdata/ip/192.0.2.2?aggr=false", 200, lines(begin, // by reversed name: shared < evil
		`{"obj":{"count":1,"time_first":1793786520,"time_last":1793786520,"rrname":"shared.example.net.","rrtype":"A","rdata":"192.0.2.2"}}`,
		`{"obj":{"count":1,"time_first":1793786400,"time_last":1793786400,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2"}}`,
		`{"obj":{"count":1,"time_first":1793872800,"time_last":1793872800,"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.2"}}`, ok))
	c.expect("/dnsdb/v2/lookup/rdata/name/cdn.example.net?aggr=false", 200, lines(begin,
		`{"obj":{"count":1,"time_first":1793700030,"time_last":1793700030,"rrname":"www.example.net.","rrtype":"CNAME","rdata":"cdn.example.net."}}`, ok))
	c.expect("/dnsdb/v2/lookup/rdata/name/nothing.example.net?aggr=false", 200, lines(begin, ok))
	c.expect("/dnsdb/v2/summarize/rdata/ip/192.0.2.2", 200, lines(begin, `{"obj":{"count":3,"num_results":2,"time_first":1793786400,"time_last":1793872800}}`, ok))
	rdWWW := `{"obj":{"count":1,"time_first":1793700030,"time_last":1793700030,"rrname":"www.example.net.","rrtype":"CNAME","rdata":"cdn.example.net."}}`
	rdMX := `{"obj":{"count":1,"time_first":1793700080,"time_last":1793700080,"rrname":"example.net.","rrtype":"MX","rdata":"10 mail.example.net."}}`
	c.expect("/dnsdb/v2/lookup/rdata/name/cdn.example.net", 200, lines(begin, rdWWW, ok))
	c.expect("/dnsdb/v2/lookup/rdata/name/cdn.example.net/CNAME", 200, lines(begin, rdWWW, ok))
	c.expect("/dnsdb/v2/lookup/rdata/name/cdn.example.net/MX", 200, lines(begin, ok))
	c.expect("/dnsdb/v2/lookup/rdata/name/*.example.net", 200, lines(begin, rdMX, rdWWW, ok))
	c.expect("/dnsdb/v2/lookup/rrset/name/evil.example.net?offset=2000000", 416, lines(`{"cond":"failed","msg":"offset: larger than the offset_max of rate_limit"}`))
	c.expect("/dnsdb/v2/ping", 200, `{"ping":"ok"}`+"\n")
	c.expect("/dnsdb/v2/rate_limit", 200, `{"rate":{"expires":"n/a","limit":"unlimited","offset_max":1000000,"remaining":"n/a","reset":"n/a","results_max":1000000}}`+"\n")

	// COF.
	cof1 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.1"],"time_first":1793700000,"time_last":1793700060,"count":2,"sensor_id":"sensor-1"}`
	cof2 := `{"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.2"],"time_first":1793786400,"time_last":1793872800,"count":2,"sensor_id":"sensor-1"}`
	cof3 := `{"rrname":"shared.example.net.","rrtype":"A","rdata":["192.0.2.2"],"time_first":1793786520,"time_last":1793786520,"count":1,"sensor_id":"sensor-1"}`
	c.expect("/pdns/query/evil.example.net", 200, lines(cof1, cof2))
	c.expect("/pdns/query/192.0.2.2", 200, lines(cof2, cof3))
	c.expect("/pdns/query/nothing.example.net", 200, "")
	pg := c.do("GET", "/pdns/query/192.0.2.0/24", http.Header{"Dribble-Paginate-Count": {"2"}}, nil)
	cur := pg.header.Get("X-Dribble-Cursor")
	if pg.status != 200 || pg.body != lines(cof1, cof2) || cur == "" {
		t.Errorf("COF page 1: %d %q cursor %q", pg.status, pg.body, cur)
	}
	pg = c.do("GET", "/pdns/query/192.0.2.0/24", http.Header{"Dribble-Paginate-Count": {"2"}, "Dribble-Paginate-Cursor": {cur}}, nil)
	if pg.status != 200 || pg.body != lines(cof3) || pg.header.Get("X-Dribble-Cursor") != "" {
		t.Errorf("COF page 2: %d %q cursor %q", pg.status, pg.body, pg.header.Get("X-Dribble-Cursor"))
	}
	pg = c.do("GET", "/pdns/query/example.net", http.Header{"Dribble-Filter-Rrtype": {"A,AAAA"}}, nil)
	if pg.status != 200 || pg.body != "" {
		t.Errorf("COF rrtype filter: %d %q", pg.status, pg.body)
	}
	for _, h := range []string{"application/x-ndjson"} {
		if got := c.get("/pdns/query/evil.example.net").header.Get("Content-Type"); got != h {
			t.Errorf("COF Content-Type %q", got)
		}
	}
}
