package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/testkit"

	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSink records what it is asked to write and fails on demand.
type fakeSink struct {
	mu      sync.Mutex
	batches []*record.Batch
	fail    func(attempt int) error // nil: always succeed
	calls   int
	down    atomic.Bool   // fail every write and ping, as an unreachable server
	hang    chan struct{} // when set, writes block until it is closed or ctx ends
}

func (f *fakeSink) Prepare(context.Context) error { return nil }
func (f *fakeSink) Close() error                  { return nil }
func (f *fakeSink) Ping(context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeSink) Write(ctx context.Context, b *record.Batch) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	if f.hang != nil {
		select {
		case <-f.hang:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		if err := f.fail(f.calls); err != nil {
			return err
		}
	}
	f.batches = append(f.batches, b)
	return nil
}

func (f *fakeSink) rows() (n int, batches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		n += b.Len()
	}
	return n, len(f.batches)
}

func newTestWriter(batch, queue int, flush time.Duration, s sink) *writer {
	w := newWriter(config{batch: batch, queue: queue, flush: flush, sensor: "t"}, s)
	w.shutdownTimeout = 300 * time.Millisecond
	return w
}

func dropped(reason string) float64 { return testutil.ToFloat64(droppedCount.WithLabelValues(reason)) }

func TestWriterFlushesOnSize(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(3, 100, time.Hour, s)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	for range 7 {
		w.enqueue(recordtest.Capture(t, "example.org."))
	}
	testkit.WaitFor(t, "two full batches", 5*time.Second, func() bool { _, b := s.rows(); return b == 2 })
	if n, _ := s.rows(); n != 6 {
		t.Errorf("wrote %d rows before the flush interval, want 6", n)
	}
}

// TestWriterWakesFromIdle: a capture pushed while the writer goes idle, or once it is, is
// taken; one lost wake-up would leave it queued until the next capture. The pauses before
// each push fall on either side of the poll that finds the queue empty.
func TestWriterWakesFromIdle(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(1, 10, time.Hour, s)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	idle := 0
	for i := range 200 {
		time.Sleep(time.Duration(i%7) * pollInterval / 2)
		if w.idle.Load() {
			idle++
		}
		w.enqueue(recordtest.Capture(t, "example.org."))
		testkit.WaitFor(t, "the capture taken", 2*time.Second, func() bool { n, _ := s.rows(); return n == i+1 })
	}
	if idle == 0 {
		t.Errorf("the writer was never idle before a push: the test did not test waking")
	}
}

func TestWriterFlushesOnInterval(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(1000, 1000, 50*time.Millisecond, s)
	w.start()
	defer w.stop()
	start := time.Now()
	w.enqueue(recordtest.Capture(t, "example.org."))
	w.enqueue(recordtest.Capture(t, "example.net."))
	testkit.WaitFor(t, "the interval flush", 5*time.Second, func() bool { n, _ := s.rows(); return n == 2 })
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("flushed after %s, before the interval", d)
	}
}

func TestWriterRetriesTransientErrors(t *testing.T) {
	s := &fakeSink{fail: func(attempt int) error {
		if attempt <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}}
	w := newTestWriter(2, 10, time.Hour, s)
	errs := testutil.ToFloat64(errorCount.WithLabelValues("insert"))
	w.start()
	w.enqueue(recordtest.Capture(t, "a.example.org."))
	w.enqueue(recordtest.Capture(t, "b.example.org."))
	testkit.WaitFor(t, "the retried batch", 5*time.Second, func() bool { n, _ := s.rows(); return n == 2 })
	w.stop()
	if s.calls != 3 {
		t.Errorf("sink called %d times, want 3", s.calls)
	}
	if got := testutil.ToFloat64(errorCount.WithLabelValues("insert")) - errs; got != 2 {
		t.Errorf("errors_total grew by %v, want 2", got)
	}
}

func TestWriterDropsRejectedRows(t *testing.T) {
	s := &fakeSink{fail: func(int) error { return chsink.ErrRejected }}
	w := newTestWriter(2, 10, time.Hour, s)
	before := dropped(dropRejected)
	w.start()
	w.enqueue(recordtest.Capture(t, "a.example.org."))
	w.enqueue(recordtest.Capture(t, "b.example.org."))
	testkit.WaitFor(t, "the rejection", 5*time.Second, func() bool { return dropped(dropRejected)-before == 2 })
	w.stop()
	if s.calls != 1 {
		t.Errorf("rejected batch tried %d times, want 1", s.calls)
	}
}

func TestWriterQueueFullDropsAndCounts(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(2, 2, time.Hour, s) // not started: nothing drains the queue
	before := dropped(dropQueueFull)
	for range 5 {
		w.enqueue(recordtest.Capture(t, "example.org."))
	}
	if got := dropped(dropQueueFull) - before; got != 3 {
		t.Errorf("dropped %v, want 3", got)
	}
	// The byte budget holds too: one huge message fits the count but not the bytes.
	w2 := newTestWriter(2, 2, time.Hour, s)
	huge := record.Capture{Wire: make([]byte, 3*queueBytesPerRecord)}
	w2.enqueue(huge)
	if got := dropped(dropQueueFull) - before; got != 4 {
		t.Errorf("dropped %v after a message over the byte budget, want 4", got)
	}
}

// TestWriterConcurrentPushes: captures pushed from many goroutines at once, into a queue
// that can hold them all, are all written: none refused as queue_full, and the queue's
// byte count is back at zero once the writer has drained.
func TestWriterConcurrentPushes(t *testing.T) {
	const pushers, each = 8, 5000
	s := &fakeSink{}
	w := newTestWriter(500, pushers*each, 20*time.Millisecond, s)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	c := recordtest.Capture(t, "example.org.")
	before := dropped(dropQueueFull)
	pushFrom(w, c, pushers, each).Wait()
	w.stop()
	if n, _ := s.rows(); n != pushers*each {
		t.Errorf("wrote %d rows of %d pushed", n, pushers*each)
	}
	if got := dropped(dropQueueFull) - before; got != 0 {
		t.Errorf("%v captures refused as queue_full by a queue that holds them all", got)
	}
	if b := w.queuedBytes.Load(); b != 0 {
		t.Errorf("queued bytes %d after the drain, want 0", b)
	}
}

// TestWriterStopAccountsForEveryPush: a writer stopped while eight goroutines push has,
// once they are done, written or counted as dropped every capture they pushed. A push
// that found the writer running but reached the queue only after the final drain would
// sit there, neither written nor counted; with more pushers than cores some are
// descheduled in that window.
func TestWriterStopAccountsForEveryPush(t *testing.T) {
	const rounds, pushers, each = 30, 8, 3000
	c := recordtest.Capture(t, "example.org.")
	reasons := []string{dropShutdown, dropQueueFull}
	for round := range rounds {
		s := &fakeSink{}
		w := newTestWriter(100, 2000, time.Hour, s)
		if err := w.start(); err != nil {
			t.Fatal(err)
		}
		before := make([]float64, len(reasons))
		for i, r := range reasons {
			before[i] = dropped(r)
		}
		pushing := pushFrom(w, c, pushers, each)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		w.stop()
		pushing.Wait()
		lost := 0.0
		for i, r := range reasons {
			lost += dropped(r) - before[i]
		}
		if n, _ := s.rows(); float64(n)+lost != pushers*each {
			t.Fatalf("round %d: %d pushed, %d written + %v dropped", round, pushers*each, n, lost)
		}
	}
}

func TestWriterDrainsOnStop(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(4, 100, time.Hour, s)
	w.start()
	for range 10 {
		w.enqueue(recordtest.Capture(t, "example.org."))
	}
	w.stop()
	if n, _ := s.rows(); n != 10 {
		t.Errorf("wrote %d rows by the end of stop, want 10", n)
	}
	// A capture after stop (a straggling query during reload) is counted, not lost silently.
	before := dropped(dropShutdown)
	w.enqueue(recordtest.Capture(t, "late.example.org."))
	if got := dropped(dropShutdown) - before; got != 1 {
		t.Errorf("late capture counted %v times, want 1", got)
	}
	// The writer starts again after a reload.
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	w.enqueue(recordtest.Capture(t, "again.example.org."))
	w.stop()
	if n, _ := s.rows(); n != 11 {
		t.Errorf("wrote %d rows after restart, want 11", n)
	}
}

func TestWriterStopWithClickHouseDownIsBounded(t *testing.T) {
	s := &fakeSink{fail: func(int) error { return errors.New("connection refused") }}
	w := newTestWriter(2, 100, time.Hour, s)
	before := dropped(dropShutdown)
	w.start()
	for range 5 {
		w.enqueue(recordtest.Capture(t, "example.org."))
	}
	time.Sleep(50 * time.Millisecond) // let the first batch start failing
	start := time.Now()
	w.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %s with ClickHouse down", d)
	}
	if got := dropped(dropShutdown) - before; got != 5 {
		t.Errorf("dropped %v at shutdown, want 5", got)
	}
}

func TestWriterCountsUndecodable(t *testing.T) {
	s := &fakeSink{}
	w := newTestWriter(1, 10, time.Hour, s)
	before := dropped(dropEncode)
	w.start()
	w.enqueue(record.Capture{Wire: []byte{1, 2, 3}})
	w.enqueue(recordtest.Capture(t, "example.org."))
	testkit.WaitFor(t, "the good row", 5*time.Second, func() bool { n, _ := s.rows(); return n == 1 })
	w.stop()
	if got := dropped(dropEncode) - before; got != 1 {
		t.Errorf("undecodable counted %v, want 1", got)
	}
}

// enqueue pushes a capture the way the recorder does.
func (w *writer) enqueue(c record.Capture) { w.push(&c) }

// pushFrom starts pushers goroutines that each push c each times, as the recorder does;
// wait on the result for them to finish.
func pushFrom(w *writer, c record.Capture, pushers, each int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range pushers {
		wg.Go(func() {
			for range each {
				w.enqueue(c)
			}
		})
	}
	return &wg
}
