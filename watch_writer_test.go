package passivedns

import (
	"github.com/passivedns/passivedns/internal/watch"

	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestWatchThroughWriter: the writer shows each acknowledged batch to the watchlist, and
// a first sighting reaches a webhook on loopback; a tuple seen again does not.
func TestWatchThroughWriter(t *testing.T) {
	got := make(chan watch.Event, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev watch.Event
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &ev)
		got <- ev
	}))
	defer rcv.Close()

	r := newRecording(t)
	ws := []watch.Watch{}
	for _, v := range [][2]string{{"name", "*.example.net"}, {"ip", "203.0.113.0/24"}} {
		x, err := watch.Parse(v[0], v[1])
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, x)
	}
	cfg := r.cfg
	cfg.watches, cfg.webhook, cfg.sensor = ws, rcv.URL, "sensor-w"
	wt := newWatcher(cfg)
	if err := wt.Start(); err != nil {
		t.Fatal(err)
	}
	defer wt.Stop()
	r.p.writer.stop() // the watcher is set between a stop and a start of the writer
	r.p.writer.watch = wt
	if err := r.p.writer.start(); err != nil {
		t.Fatal(err)
	}
	r.set("evil.example.net.", dns.TypeA, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	r.set("other.example.org.", dns.TypeA, dns.RcodeSuccess, "other.example.org. 300 IN A 203.0.113.5")
	r.set("quiet.example.org.", dns.TypeA, dns.RcodeSuccess, "quiet.example.org. 300 IN A 198.51.100.5")
	r.ask(scT0, "evil.example.net.", dns.TypeA)
	r.ask(at(scT0, 1), "other.example.org.", dns.TypeA)
	r.ask(at(scT0, 2), "quiet.example.org.", dns.TypeA)
	r.flush()
	want := map[string]bool{
		"name *.example.net. evil.example.net. A 192.0.2.1 2026-11-03T10:00:00Z sensor-w":  true,
		"ip 203.0.113.0/24 other.example.org. A 203.0.113.5 2026-11-03T10:00:01Z sensor-w": true,
	}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-got:
			k := ev.Watch + " " + ev.RRName + " " + ev.RRType + " " + ev.RData + " " + ev.TimeFirst + " " + ev.Sensor
			if !want[k] {
				t.Errorf("unexpected event %s", k)
			}
			delete(want, k)
		case <-deadline:
			t.Fatalf("events not received: %v", want)
		}
	}
	r.ask(at(scT0, 60), "evil.example.net.", dns.TypeA)
	r.flush()
	select {
	case ev := <-got:
		t.Errorf("a tuple seen again fired: %+v", ev)
	case <-time.After(time.Second):
	}
}
