package watch

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
)

var testCH *chtest.Server

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, &testCH)) }

var logger = clog.NewWithPlugin("passivedns")

// receiver is a webhook on loopback that can be down (503) for a while.
type receiver struct {
	srv    *httptest.Server
	down   atomic.Bool
	mu     sync.Mutex
	events []Event
	got    chan Event
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan Event, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var ev Event
		b, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &ev) != nil {
			t.Errorf("webhook got %s %s %q", req.Method, req.Header.Get("Content-Type"), b)
		}
		r.got <- ev
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// expect waits for the events (in any order) and then for quiet: no other event.
func (r *receiver) expect(t *testing.T, what string, want ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	deadline := time.After(10 * time.Second)
	for len(left) > 0 {
		select {
		case ev := <-r.got:
			k := ev.Watch + " | " + ev.RRName + " " + ev.RRType + " " + ev.RData + " " + ev.TimeFirst + " " + ev.Sensor
			if !left[k] {
				t.Errorf("%s: unexpected event %s", what, k)
			}
			delete(left, k)
		case <-deadline:
			t.Fatalf("%s: events not received: %v", what, left)
		}
	}
	select {
	case ev := <-r.got:
		t.Errorf("%s: unexpected event %+v", what, ev)
	case <-time.After(700 * time.Millisecond):
	}
}

// batch is one response per record line, all captured at tm.
func batch(t *testing.T, tm time.Time, rrs ...string) *record.Batch {
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		m.SetQuestion(rr.Header().Name, rr.Header().Rrtype)
		m.Response = true
		m.Answer = []dns.RR{rr}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(&record.Capture{Wire: wire, Time: tm}, d, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func counter(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 10)
	c.Collect(ch)
	close(ch)
	total := 0.0
	for m := range ch {
		var d dto.Metric
		m.Write(&d)
		total += d.GetCounter().GetValue()
	}
	return total
}

func TestWatchFirstSeen(t *testing.T) {
	db := "watch_first_seen"
	testCH.Query("DROP DATABASE IF EXISTS " + db)
	opts, err := clickhouse.ParseDSN(testCH.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	sink := chsink.New(chsink.Options{ClickHouse: opts, Database: db, AutoSchema: true, Log: logger})
	ctx := context.Background()
	if err := sink.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	rcv := newReceiver(t)
	var ws []Watch
	for _, w := range [][2]string{{"name", "*.example.com"}, {"ip", "198.51.100.0/24"}, {"rdata", "*.evil.net"}} {
		x, _ := Parse(w[0], w[1])
		ws = append(ws, x)
	}
	start := func(sensor string) *Watcher {
		w := New(Options{Watches: ws, URL: rcv.srv.URL, ClickHouse: opts, Database: db, Sensor: sensor, Log: logger,
			MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	write := func(w *Watcher, b *record.Batch) {
		t.Helper()
		if err := sink.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		w.Observe(b)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w1 := start("s1")
	write(w1, batch(t, t0,
		"www.example.com. 60 IN A 192.0.2.1",
		"www.example.com. 60 IN A 192.0.2.1", // twice in one batch: one event
		"host.other.org. 60 IN A 198.51.100.7",
		"alias.other.org. 60 IN CNAME cdn.evil.net.",
		"unwatched.org. 60 IN A 203.0.113.1"))
	rcv.expect(t, "first batch",
		"name *.example.com. | www.example.com. A 192.0.2.1 2026-12-01T10:00:00Z s1",
		"ip 198.51.100.0/24 | host.other.org. A 198.51.100.7 2026-12-01T10:00:00Z s1",
		"rdata *.evil.net. | alias.other.org. CNAME cdn.evil.net. 2026-12-01T10:00:00Z s1")

	// Seen again by the same process, a minute later: nothing.
	write(w1, batch(t, t0.Add(time.Minute), "www.example.com. 60 IN A 192.0.2.1"))
	rcv.expect(t, "same tuple again")

	// A restart, or another sensor on the same ClickHouse: nothing is remembered in
	// memory, history says the tuple is old; a new one still fires.
	w1.Stop()
	w2 := start("s2")
	defer w2.Stop()
	write(w2, batch(t, t0.Add(2*time.Minute), "www.example.com. 60 IN A 192.0.2.1", "www.example.com. 60 IN A 192.0.2.2"))
	rcv.expect(t, "after a restart", "name *.example.com. | www.example.com. A 192.0.2.2 2026-12-01T10:02:00Z s2")

	// The receiver is down for a while: the event is retried with backoff, then delivered.
	failed := counter(failedCount)
	sent := counter(sentCount)
	rcv.down.Store(true)
	write(w2, batch(t, t0.Add(3*time.Minute), "mx.other.org. 60 IN MX 10 mail.evil.net."))
	time.Sleep(1500 * time.Millisecond)
	if counter(failedCount) < failed+3 {
		t.Errorf("receiver down 1.5 s: %v failed deliveries, want retries with backoff", counter(failedCount)-failed)
	}
	if counter(sentCount) != sent {
		t.Errorf("sent while the receiver was down")
	}
	rcv.down.Store(false)
	rcv.expect(t, "receiver back", "rdata *.evil.net. | mx.other.org. MX 10 mail.evil.net. 2026-12-01T10:03:00Z s2")
	if counter(sentCount) != sent+1 {
		t.Errorf("sent %v, want %v", counter(sentCount), sent+1)
	}
	if counter(matchedCount) < 7 {
		t.Errorf("matched %v, want at least 7", counter(matchedCount))
	}
	testCH.Query("DROP DATABASE IF EXISTS " + db)
}

// TestObserveNeverBlocks: with nothing draining the queue (lookups stuck), Observe keeps
// returning and counts what it drops.
func TestObserveNeverBlocks(t *testing.T) {
	x, _ := Parse("name", "*.example.com")
	w := New(Options{Watches: []Watch{x}, URL: "http://127.0.0.1:1/", Log: logger})
	b := batch(t, time.Now(), "a.example.com. 60 IN A 192.0.2.1", "b.example.com. 60 IN A 192.0.2.1")
	before := counter(droppedCount)
	for range defaultBatches + 10 {
		w.Observe(b)
	}
	if got := counter(droppedCount) - before; got != 20 {
		t.Errorf("dropped %v, want 20 (10 batches of 2 beyond the queue)", got)
	}
}

// TestWatchExpires: an event the receiver never takes is retried until MaxAge, then
// dropped and counted, and the sender goes on with the next one.
func TestWatchExpires(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer down.Close()
	w := New(Options{URL: down.URL, Log: logger, MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxAge: 300 * time.Millisecond})
	w.quit = make(chan struct{})
	expired := func() float64 {
		ch := make(chan prometheus.Metric, 10)
		droppedCount.WithLabelValues("expired").Collect(ch)
		close(ch)
		var d dto.Metric
		(<-ch).Write(&d)
		return d.GetCounter().GetValue()
	}
	before, failed := expired(), counter(failedCount)
	start := time.Now()
	w.send(context.Background(), Event{Event: "first_seen", RRName: "x.example.", queued: time.Now()})
	if expired() != before+1 || counter(failedCount) < failed+3 {
		t.Errorf("expired %v (want 1), failed %v (want several)", expired()-before, counter(failedCount)-failed)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v, MaxAge is 300ms", d)
	}
}
