package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/spool"

	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func spoolBatchOf(t testing.TB, n int) *record.Batch {
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	for i := range n {
		c := testCapture(t, fmt.Sprintf("r%d.example.org.", i))
		c.Client = netip.MustParseAddr("192.0.2.7")
		c.Server, c.Transport, c.Elapsed = "dns://:53", "udp", time.Duration(i)*time.Microsecond
		if err := b.Add(&c, d, "t"); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func openTestSpool(t *testing.T, max int64) *spool.Dir {
	t.Helper()
	d, err := spool.Open(t.TempDir(), max, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestSpoolRoundTrip(t *testing.T) {
	d := openTestSpool(t, spool.DefaultSize)
	b := spoolBatchOf(t, 50)
	b.Uncertain = true
	n, err := d.Write(b)
	if err != nil || n != 50 {
		t.Fatalf("write: %d, %v", n, err)
	}
	if st := d.Stats(); st.Files != 1 || st.Records != 50 || st.Bytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
	f, ok := d.ClaimOldest()
	if !ok {
		t.Fatal("no file to claim")
	}
	if _, again := d.ClaimOldest(); again {
		t.Fatal("a claimed file was handed out twice")
	}
	got, caps, damaged, err := spool.ReadFile(filepath.Join(d.Path, f.Name))
	if err != nil || damaged != 0 {
		t.Fatalf("read: %v, %d damaged", err, damaged)
	}
	if got.ID != b.ID || !got.Uncertain || len(caps) != 50 {
		t.Fatalf("read id %x uncertain %v records %d", got.ID, got.Uncertain, len(caps))
	}
	for i, c := range caps {
		want := b.Caps[i]
		if !slices.Equal(c.Wire, want.Wire) || !c.Time.Equal(want.Time) || c.Elapsed != want.Elapsed ||
			c.Client != want.Client || c.Server != want.Server || c.Transport != want.Transport {
			t.Fatalf("record %d: got %+v, want %+v", i, c, want)
		}
	}
	if err := d.Remove(f); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Files != 0 || st.Records != 0 || st.Bytes != 0 {
		t.Errorf("stats after remove %+v", st)
	}
}

func TestSpoolDamage(t *testing.T) {
	tests := []struct {
		name        string
		damage      func(data []byte) []byte
		wantGood    int
		wantDamaged int
	}{
		{"torn last record", func(p []byte) []byte { return p[:len(p)-7] }, 9, 1},
		{"flipped payload byte", func(p []byte) []byte { p[spool.HeaderLen+spool.FrameLen+20] ^= 0xff; return p }, 9, 1},
		{"flipped length", func(p []byte) []byte { p[spool.HeaderLen+5] ^= 0x40; return p }, 9, 1},
		{"garbage in the middle", func(p []byte) []byte {
			mid := len(p) / 2
			return append(append(slices.Clone(p[:mid]), []byte("garbage!")...), p[mid:]...)
		}, 9, 1},
		{"damaged header", func(p []byte) []byte { p[0] = 'X'; return p }, 10, 1},
		{"empty file", func(p []byte) []byte { return nil }, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := openTestSpool(t, spool.DefaultSize)
			if _, err := d.Write(spoolBatchOf(t, 10)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d.Path, d.Files[0].Name)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, tc.damage(data), 0o600)
			_, caps, damaged, err := spool.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(caps) != tc.wantGood || damaged != tc.wantDamaged {
				t.Errorf("got %d good, %d damaged; want %d, %d", len(caps), damaged, tc.wantGood, tc.wantDamaged)
			}
			for _, c := range caps {
				if _, err := new(dns.Msg), new(dns.Msg).Unpack(c.Wire); err != nil {
					t.Errorf("a damaged record came back as good: %v", err)
				}
			}
		})
	}
}

func TestSpoolFullKeepsOldest(t *testing.T) {
	d := openTestSpool(t, minSpoolSize)
	total := 0
	for {
		b := spoolBatchOf(t, 100)
		n, err := d.Write(b)
		total += n
		if err != nil {
			if err != spool.ErrFull {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	st := d.Stats()
	if st.Bytes > minSpoolSize {
		t.Errorf("spool grew to %d bytes, past its %d limit", st.Bytes, minSpoolSize)
	}
	if st.Records != int64(total) {
		t.Errorf("spool says %d records, %d were written", st.Records, total)
	}
	if n, err := d.Write(spoolBatchOf(t, 1)); n != 0 || err != spool.ErrFull {
		t.Errorf("write to a full spool: %d, %v", n, err)
	}
}

func TestSpoolSharedWithinProcess(t *testing.T) {
	dir := t.TempDir()
	a, err := spool.Open(dir, spool.DefaultSize, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := spool.Open(dir, spool.DefaultSize, log)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("two instances of one directory in one process: replay could double")
	}
	a.Close()
	b.Close()
	c, err := spool.Open(dir, spool.DefaultSize, log) // reopened after the last close
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

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
		w.enqueue(testCapture(t, fmt.Sprintf("n%d.example.org.", i)))
	}
	waitFor(t, "95 spooled records", func() bool { return testutil.ToFloat64(spooledCount)-spooled == 95 })
	if st := w.spool.Stats(); st.Records != 95 {
		t.Fatalf("spool holds %d records, want 95", st.Records)
	}
	s.down.Store(false)
	waitFor(t, "the replay", func() bool { return testutil.ToFloat64(replayedCount)-replayed == 95 })
	waitFor(t, "an empty spool", func() bool { return w.spool.Stats().Files == 0 })
	w.stop()
	if n, _ := s.rows(); n != 95 {
		t.Errorf("ClickHouse got %d rows, want 95", n)
	}
	names := map[string]int{}
	for _, b := range s.batches {
		for _, q := range b.QName {
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
		w.enqueue(testCapture(t, fmt.Sprintf("h%d.example.org.", i)))
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(t, "the queue to empty into the spool", func() bool { return len(w.queue) == 0 && w.spool.Stats().Records >= 490 })
	close(s.hang) // the server wakes up
	waitFor(t, "every record written", func() bool { n, _ := s.rows(); return n == 500 })
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
		w.enqueue(testCapture(t, fmt.Sprintf("k%d.example.org.", i)))
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
	waitFor(t, "the replay after restart", func() bool { n, _ := s2.rows(); return n == 30 })
	waitFor(t, "an empty spool", func() bool { return w2.spool.Stats().Files == 0 })
	w2.stop()
	if got := dropped(dropCorrupt) - corrupt; got != 1 {
		t.Errorf("torn record counted %v times, want 1", got)
	}
}
