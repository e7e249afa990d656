// Package watch sends a webhook when a tuple that matches a watch is seen for the first
// time ever. After each acknowledged insert the writer hands the batch to Observe, which
// only matches and queues; one goroutine looks the matches up in history_by_name (the
// first sighting across restarts and across every sensor sharing the database), another
// POSTs the events, retrying with backoff. Both queues are bounded: when they are full
// events are dropped and counted, never waited for, so DNS is never held up.
package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
)

// Defaults; Options may shorten them (tests).
const (
	defaultQueue      = 1000   // events waiting for the webhook
	defaultBatches    = 64     // matched batches waiting for the lookup
	maxPerBatch       = 10000  // matches looked up per batch; more are dropped
	defaultNotified   = 100000 // tuples remembered as notified by this process
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
	defaultMaxAge     = time.Hour // an event the webhook has not taken by then is dropped
	postTimeout       = 10 * time.Second
	lookupTimeout     = 10 * time.Second
	lookupTries       = 5
)

// Options configure a Watcher.
type Options struct {
	Watches    []Watch
	URL        string
	ClickHouse *clickhouse.Options // its database is ignored
	Database   string
	Sensor     string
	Log        clog.P

	Queue                  int
	MinBackoff, MaxBackoff time.Duration
	MaxAge                 time.Duration
	Client                 *http.Client
}

// Event is the JSON body POSTed for each first sighting.
type Event struct {
	Event     string `json:"event"` // "first_seen"
	Watch     string `json:"watch"`
	RRName    string `json:"rrname"`
	RRType    string `json:"rrtype"`
	RData     string `json:"rdata"`
	TimeFirst string `json:"time_first"`
	Sensor    string `json:"sensor"`

	queued time.Time
}

type candidate struct {
	t     Tuple
	watch int
	seen  uint32 // earliest time of the tuple in its batch, epoch seconds
}

// Watcher is the watchlist of one plugin instance.
type Watcher struct {
	opts    Options
	batches chan []candidate
	events  chan Event

	mu       sync.Mutex // guards notified
	notified map[Tuple]struct{}
	order    []Tuple // insertion order of notified, to forget the oldest

	conn   driver.Conn
	quit   chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New returns a Watcher; Start runs it.
func New(o Options) *Watcher {
	if o.Queue <= 0 {
		o.Queue = defaultQueue
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxAge <= 0 {
		o.MaxAge = defaultMaxAge
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: postTimeout}
	}
	return &Watcher{opts: o, notified: map[Tuple]struct{}{},
		batches: make(chan []candidate, defaultBatches), events: make(chan Event, o.Queue)}
}

// Start starts the lookup and sender goroutines.
func (w *Watcher) Start() error {
	if w.quit != nil {
		return nil
	}
	opts := *w.opts.ClickHouse
	opts.Auth.Database = ""
	opts.MaxOpenConns, opts.MaxIdleConns = 2, 1
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	w.conn = conn
	w.quit = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(2)
	go w.lookupLoop(ctx)
	go w.sendLoop(ctx)
	return nil
}

// Stop ends both goroutines; events not yet sent are lost (they are not persisted: the
// history tables are the record, this is a notification).
func (w *Watcher) Stop() error {
	if w.quit == nil {
		return nil
	}
	close(w.quit)
	w.cancel()
	w.wg.Wait()
	w.quit = nil
	return w.conn.Close()
}

// Observe takes an acknowledged batch. It never blocks: matching is in memory, and a
// full queue drops the matches (counted).
func (w *Watcher) Observe(b *record.Batch) {
	var found map[Tuple]int
	var cands []candidate
	if b.Len() == 0 {
		return
	}
	for i := range b.Len() {
		blk, row := b.Block(i)
		ans := blk.Answer
		lo, hi := ans.Records(row)
		for j := lo; j < hi; j++ {
			// The tuple reads the batch's buffers, which are reused once this returns: it is
			// copied when it matches, and only then.
			t := Tuple{bytesText(ans.Name.At(j)), bytesText(ans.Type.AtBytes(j)), bytesText(ans.Data.At(j))}
			k := match(w.opts.Watches, t)
			if k < 0 {
				continue
			}
			t = Tuple{strings.Clone(t.RRName), strings.Clone(t.RRType), strings.Clone(t.RData)}
			sec := uint32(b.TimeAt(i).Unix())
			if found == nil {
				found = map[Tuple]int{}
			}
			if at, ok := found[t]; ok {
				cands[at].seen = min(cands[at].seen, sec)
				continue
			}
			matchedCount.Inc()
			if len(cands) >= maxPerBatch {
				droppedCount.WithLabelValues("batch_full").Inc()
				continue
			}
			found[t] = len(cands)
			cands = append(cands, candidate{t: t, watch: k, seen: sec})
		}
	}
	if len(cands) == 0 {
		return
	}
	select {
	case w.batches <- cands:
	default:
		droppedCount.WithLabelValues("queue_full").Add(float64(len(cands)))
	}
}

func (w *Watcher) lookupLoop(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-w.quit:
			return
		case cands := <-w.batches:
			w.lookup(ctx, cands)
		}
	}
}

// lookup fires the candidates whose first sighting anywhere is in their batch.
func (w *Watcher) lookup(ctx context.Context, cands []candidate) {
	var todo []candidate
	w.mu.Lock()
	for _, c := range cands {
		if _, ok := w.notified[c.t]; !ok {
			todo = append(todo, c)
		}
	}
	w.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	var first map[Tuple]uint32
	var err error
	backoff := w.opts.MinBackoff
	for try := 0; try < lookupTries; try++ {
		if first, err = w.firstSeen(ctx, todo); err == nil {
			break
		}
		select {
		case <-w.quit:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, w.opts.MaxBackoff)
	}
	if err != nil {
		w.opts.Log.Warningf("Watch: cannot look up first sightings, %d matches dropped: %v", len(todo), err)
		droppedCount.WithLabelValues("lookup").Add(float64(len(todo)))
		return
	}
	for _, c := range todo {
		f, ok := first[c.t]
		// Seen earlier (another batch, another sensor, before a restart): not new. On
		// 18.16 times are whole seconds, so "earlier" is an earlier second; the same
		// second in this process is caught by notified.
		if !ok || f < c.seen {
			continue
		}
		if !w.markNotified(c.t) {
			continue
		}
		ev := Event{Event: "first_seen", Watch: w.opts.Watches[c.watch].String(), RRName: c.t.RRName, RRType: c.t.RRType, RData: c.t.RData,
			TimeFirst: time.Unix(int64(f), 0).UTC().Format(time.RFC3339), Sensor: w.opts.Sensor, queued: time.Now()}
		select {
		case w.events <- ev:
		default:
			droppedCount.WithLabelValues("queue_full").Inc()
		}
	}
}

// markNotified remembers t, forgetting the oldest beyond the bound; false if known.
func (w *Watcher) markNotified(t Tuple) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.notified[t]; ok {
		return false
	}
	w.notified[t] = struct{}{}
	w.order = append(w.order, t)
	if len(w.order) > defaultNotified {
		delete(w.notified, w.order[0])
		w.order = w.order[1:]
	}
	return true
}

// firstSeen reads the first sighting of each candidate from history_by_name: a
// primary-key lookup by reverse(rrname).
func (w *Watcher) firstSeen(ctx context.Context, cands []candidate) (map[Tuple]uint32, error) {
	rev := make([]any, 0, len(cands))
	data := make([]any, 0, len(cands))
	for _, c := range cands {
		rev = append(rev, record.Reverse(c.t.RRName))
		data = append(data, c.t.RData)
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": int(lookupTimeout / time.Second)}))
	rows, err := w.conn.Query(ctx, FirstSeenQuery(w.opts.Database), clickhouse.GroupSet{Value: rev}, clickhouse.GroupSet{Value: data})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[Tuple]uint32{}
	for rows.Next() {
		var t Tuple
		var f uint32
		if err := rows.Scan(&t.RRName, &t.RRType, &t.RData, &f); err != nil {
			return nil, err
		}
		out[t] = f
	}
	return out, rows.Err()
}

// FirstSeenQuery reads the first sighting of tuples by reversed rrname and rdata, the
// same on both flavors (on 18.16 in whole seconds).
func FirstSeenQuery(database string) string {
	return "SELECT rrname, rrtype, rdata, toUInt32(minMerge(time_first))\nFROM " + schema.Schema{DB: database}.Table("history_by_name") +
		"\nWHERE reverse(rrname) IN ? AND rdata IN ?\nGROUP BY rrname, rrtype, rdata"
}

func (w *Watcher) sendLoop(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-w.quit:
			return
		case ev := <-w.events:
			w.send(ctx, ev)
		}
	}
}

// send POSTs ev until the receiver takes it (2xx), retrying with backoff, or until it
// is older than MaxAge. Meanwhile later events wait in the bounded queue.
func (w *Watcher) send(ctx context.Context, ev Event) {
	body, _ := json.Marshal(ev)
	backoff := w.opts.MinBackoff
	for {
		err := w.post(ctx, body)
		if err == nil {
			sentCount.Inc()
			return
		}
		failedCount.Inc()
		if time.Since(ev.queued)+backoff > w.opts.MaxAge {
			w.opts.Log.Warningf("Watch: webhook did not take the event for %s %s %s: %v", ev.RRName, ev.RRType, ev.RData, err)
			droppedCount.WithLabelValues("expired").Inc()
			return
		}
		select {
		case <-w.quit:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, w.opts.MaxBackoff)
	}
}

func (w *Watcher) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "coredns-passivedns-watch")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// bytesText is b as a string that shares b's bytes: valid only while b is unchanged.
func bytesText(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
