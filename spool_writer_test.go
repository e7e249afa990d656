package passivedns

import (
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/spool"
	"github.com/passivedns/passivedns/internal/testkit"

	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newSpoolWriter(t *testing.T, dir string, s sink) *writer {
	w := newWriter(config{batch: 10, queue: 1000, flush: 20 * time.Millisecond, sensor: "t", spoolDir: dir, spoolSize: spool.DefaultSize}, s)
	w.shutdownTimeout = 300 * time.Millisecond
	return w
}

// The accounting the status shows: every captured record is written, spooled or dropped.
func TestWriterSpoolsAndReplays(t *testing.T) {
	dir := t.TempDir()
	s := &fakeSink{}
	s.down.Store(true)
	w := newSpoolWriter(t, dir, s)
	spooled := testutil.ToFloat64(spooledCount)
	replayed := testutil.ToFloat64(replayedCount)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	for i := range 95 {
		w.enqueue(recordtest.Capture(t, fmt.Sprintf("n%d.example.org.", i)))
	}
	testkit.WaitFor(t, "95 spooled records", 5*time.Second, func() bool { return testutil.ToFloat64(spooledCount)-spooled == 95 })
	if st := w.spool.Stats(); st.Records != 95 {
		t.Fatalf("spool holds %d records, want 95", st.Records)
	}
	s.down.Store(false)
	testkit.WaitFor(t, "the replay", 5*time.Second, func() bool { return testutil.ToFloat64(replayedCount)-replayed == 95 })
	testkit.WaitFor(t, "an empty spool", 5*time.Second, func() bool { return w.spool.Stats().Files == 0 })
	w.stop()
	if n, _ := s.rows(); n != 95 {
		t.Errorf("ClickHouse got %d rows, want 95", n)
	}
	names := map[string]int{}
	for _, b := range s.batches {
		for _, q := range b.Rows().QName {
			names[q]++
		}
	}
	for q, n := range names {
		if n != 1 {
			t.Errorf("%s written %d times", q, n)
		}
	}
}

// A hung ClickHouse (SIGSTOP) must not stop the writer: batches go to the spool while
// the insert hangs, so the queue never fills.
func TestWriterSpoolsPastAHungInsert(t *testing.T) {
	s := &fakeSink{hang: make(chan struct{})}
	w := newSpoolWriter(t, t.TempDir(), s)
	dropsBefore := dropped(dropQueueFull)
	w.start()
	for i := range 500 {
		w.enqueue(recordtest.Capture(t, fmt.Sprintf("h%d.example.org.", i)))
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	testkit.WaitFor(t, "the queue to empty into the spool", 5*time.Second, func() bool { return w.queue.Len() == 0 && w.spool.Stats().Records >= 490 })
	close(s.hang) // the server wakes up
	testkit.WaitFor(t, "every record written", 5*time.Second, func() bool { n, _ := s.rows(); return n == 500 })
	w.stop()
	if got := dropped(dropQueueFull) - dropsBefore; got != 0 {
		t.Errorf("%v records dropped while ClickHouse hung", got)
	}
}

// Records spooled by one process are replayed by the next (CoreDNS killed or restarted).
func TestSpoolSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := &fakeSink{}
	s.down.Store(true)
	w := newSpoolWriter(t, dir, s)
	w.start()
	for i := range 30 {
		w.enqueue(recordtest.Capture(t, fmt.Sprintf("k%d.example.org.", i)))
	}
	w.stop() // ClickHouse still down: everything stays in the spool
	entries, _ := os.ReadDir(dir)
	if len(entries) < 2 { // .lock and at least one file
		t.Fatalf("nothing spooled: %v", entries)
	}
	// A torn file, as if the first process died mid-write.
	os.WriteFile(filepath.Join(dir, "99999999999999999999.part"), []byte(spool.HeaderMagic+"12345678\x00PDNS\x00\x00"), 0o600)

	s2 := &fakeSink{}
	corrupt := dropped(dropCorrupt)
	w2 := newSpoolWriter(t, dir, s2)
	if err := w2.start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the replay after restart", 5*time.Second, func() bool { n, _ := s2.rows(); return n == 30 })
	testkit.WaitFor(t, "an empty spool", 5*time.Second, func() bool { return w2.spool.Stats().Files == 0 })
	w2.stop()
	if got := dropped(dropCorrupt) - corrupt; got != 1 {
		t.Errorf("torn record counted %v times, want 1", got)
	}
}

// A batch that starts while an insert is running is kept undecoded, bound for the spool.
// It must get there even when the inserter is free again by the time the batch is full,
// or when CoreDNS stops first: written as an insert it would have no rows.
func TestWriterSpoolsUndecodedBatches(t *testing.T) {
	// start leaves a writer whose first batch of 10 was inserted while 5 more records
	// started the next batch, and whose inserter is free again.
	start := func(t *testing.T) (*writer, *fakeSink) {
		s := &fakeSink{hang: make(chan struct{})}
		w := newWriter(config{batch: 10, queue: 1000, flush: time.Hour, sensor: "t", spoolDir: t.TempDir(), spoolSize: spool.DefaultSize}, s)
		w.shutdownTimeout = time.Second
		if err := w.start(); err != nil {
			t.Fatal(err)
		}
		enqueue(t, w, 0, 10)
		testkit.WaitFor(t, "the insert to start", 5*time.Second, w.inserting.Load)
		enqueue(t, w, 10, 15)
		testkit.WaitFor(t, "the records taken", 5*time.Second, func() bool { return w.queue.Len() == 0 })
		close(s.hang)
		testkit.WaitFor(t, "the insert to end", 5*time.Second, func() bool { n, _ := s.rows(); return n == 10 && !w.inserting.Load() })
		return w, s
	}
	// once says that every record is in ClickHouse or in the spool, and in ClickHouse once.
	once := func(t *testing.T, w *writer, s *fakeSink, records int) {
		t.Helper()
		rows, _ := s.rows()
		if spooled := int(w.spool.Stats().Records); rows+spooled != records {
			t.Errorf("%d rows written and %d records spooled, want %d in all", rows, spooled, records)
		}
		names := map[string]int{}
		for _, b := range s.batches {
			for _, q := range b.Rows().QName {
				if names[q]++; names[q] > 1 {
					t.Errorf("%s written twice", q)
				}
			}
		}
	}
	t.Run("full", func(t *testing.T) {
		w, s := start(t)
		spooled := testutil.ToFloat64(spooledCount)
		enqueue(t, w, 15, 20)
		testkit.WaitFor(t, "the batch in the spool", 5*time.Second, func() bool { return testutil.ToFloat64(spooledCount)-spooled == 10 })
		testkit.WaitFor(t, "its replay", 5*time.Second, func() bool { n, _ := s.rows(); return n == 20 })
		w.stop()
		once(t, w, s, 20)
	})
	t.Run("stop", func(t *testing.T) {
		w, s := start(t)
		w.stop()
		once(t, w, s, 15)
	})
}

func enqueue(t *testing.T, w *writer, from, to int) {
	for i := from; i < to; i++ {
		w.enqueue(recordtest.Capture(t, fmt.Sprintf("u%d.example.org.", i)))
	}
}
