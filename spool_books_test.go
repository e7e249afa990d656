package passivedns

import (
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/spool"
	"github.com/passivedns/passivedns/internal/testkit"

	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The books of the spool: spooled = replayed + dropped{corrupt, unreadable}, each file's
// loss counted once, in records, however long ClickHouse stays down.

// books is a snapshot of the counters the spool's books are kept in.
type books struct{ spooled, replayed, corrupt, unreadable, insertErrors float64 }

func readBooks() books {
	return books{
		spooled:      testutil.ToFloat64(spooledCount),
		replayed:     testutil.ToFloat64(replayedCount),
		corrupt:      dropped(dropCorrupt),
		unreadable:   dropped("unreadable"),
		insertErrors: testutil.ToFloat64(errorCount.WithLabelValues("insert")),
	}
}

func (b books) since(a books) books {
	return books{b.spooled - a.spooled, b.replayed - a.replayed, b.corrupt - a.corrupt, b.unreadable - a.unreadable, b.insertErrors - a.insertErrors}
}

// longCapture is a capture of about 190 bytes on disk, the size of a typical answer.
func longCapture(t *testing.T, i int) string {
	long := strings.Repeat("a", 60)
	return fmt.Sprintf("%s.%s.n%d.example.org.", long, long, i)
}

// spoolRecords spools n records, batch to a file, with ClickHouse down, and stops the
// writer: the records are in the spool files it returns, oldest first.
func spoolRecords(t *testing.T, dir string, n, batch int) []string {
	t.Helper()
	s := &fakeSink{}
	s.down.Store(true)
	w := newWriter(config{batch: batch, queue: 2 * n, flush: time.Hour, sensor: "t", spoolDir: dir, spoolSize: spool.DefaultSize}, s)
	w.shutdownTimeout = 300 * time.Millisecond
	before := readBooks()
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		w.enqueue(recordtest.Capture(t, longCapture(t, i)))
	}
	w.stop()
	if got := readBooks().since(before).spooled; got != float64(n) {
		t.Fatalf("%v records spooled, want %d", got, n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
	slices.Sort(files)
	return files
}

// frames returns where each record of an intact spool file starts and ends, from the
// frame lengths alone.
func frames(t *testing.T, path string) (data []byte, starts, ends []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := spool.HeaderLen; off < len(data); {
		n := int(binary.BigEndian.Uint32(data[off+4:]))
		starts, ends = append(starts, off), append(ends, off+spool.FrameLen+n)
		off += spool.FrameLen + n
	}
	return data, starts, ends
}

func touching(starts, ends []int, from, to int) int {
	n := 0
	for i := range starts {
		if starts[i] < to && ends[i] > from {
			n++
		}
	}
	return n
}

// A damaged file, replayed while ClickHouse is down for several attempts and then back:
// its loss is counted once, in records, when its rows are acknowledged.
func TestSpoolBooksDamagedFile(t *testing.T) {
	const records = 600
	tests := []struct {
		name   string
		damage func(path string, data []byte, starts, ends []int) int // records lost
	}{
		{"3,000 bytes zeroed", func(p string, data []byte, s, e []int) int {
			from := len(data) / 3
			clear(data[from : from+3000])
			os.WriteFile(p, data, 0o600)
			return touching(s, e, from, from+3000)
		}},
		{"19 KB cut off the tail", func(p string, data []byte, s, e []int) int {
			cut := len(data) - 19*1024
			os.Truncate(p, int64(cut))
			return touching(s, e, cut, len(data))
		}},
		{"one record flipped", func(p string, data []byte, s, e []int) int {
			data[s[100]+spool.FrameLen+40] ^= 0xff
			os.WriteFile(p, data, 0o600)
			return 1
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := spoolRecords(t, dir, records, records)
			if len(files) != 1 {
				t.Fatalf("%d spool files, want 1", len(files))
			}
			data, starts, ends := frames(t, files[0])
			lost := tc.damage(files[0], data, starts, ends)

			s := &fakeSink{}
			s.down.Store(true)
			w := newSpoolWriter(t, dir, s)
			before := readBooks()
			if err := w.start(); err != nil {
				t.Fatal(err)
			}
			defer w.stop()
			testkit.WaitFor(t, "4 failed replays", 5*time.Second, func() bool { return readBooks().since(before).insertErrors >= 4 })
			down := readBooks().since(before)
			s.down.Store(false)
			testkit.WaitFor(t, "an empty spool", 5*time.Second, func() bool { return w.spool.Stats().Files == 0 })
			got := readBooks().since(before)
			rows, _ := s.rows()
			t.Logf("%s: %d of %d records lost; %v failed replays; corrupt counted %v while ClickHouse was down, %v in all; %d rows, %v replayed",
				tc.name, lost, records, down.insertErrors, down.corrupt, got.corrupt, rows, got.replayed)
			if down.corrupt != 0 {
				t.Errorf("corrupt grew by %v while no replay succeeded, want 0 until the rows are acknowledged", down.corrupt)
			}
			if got.corrupt != float64(lost) || got.replayed != float64(records-lost) || rows != records-lost {
				t.Errorf("corrupt %v, replayed %v, rows %d; want %d, %d, %d", got.corrupt, got.replayed, rows, lost, records-lost, records-lost)
			}
			if got.replayed+got.corrupt+got.unreadable != records {
				t.Errorf("books: spooled %d != replayed %v + corrupt %v + unreadable %v", records, got.replayed, got.corrupt, got.unreadable)
			}
		})
	}
}

// One unreadable spool file, made so while CoreDNS runs and ClickHouse is down, never
// wedges the writer: it is set aside, its records counted as unreadable, the replay goes
// on with the next file, and once ClickHouse is back live batches go to it again.
func TestSpoolUnreadableFileDoesNotWedge(t *testing.T) {
	tests := []struct {
		name      string
		files     int // of 10 records
		make      func(t *testing.T, path string)
		setAside  bool // found in the quarantine folder
		wantFiles int  // left in the spool after the file is dealt with, ClickHouse still down
	}{
		{"oldest file removed", 3, func(t *testing.T, p string) { os.Remove(p) }, false, 2},
		{"the only file removed", 1, func(t *testing.T, p string) { os.Remove(p) }, false, 0},
		{"directory in its place", 3, func(t *testing.T, p string) {
			os.Remove(p)
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, true, 2},
		{"dangling symlink in its place", 3, func(t *testing.T, p string) {
			os.Remove(p)
			if err := os.Symlink(p+".gone", p); err != nil {
				t.Fatal(err)
			}
		}, true, 2},
		{"FIFO in its place", 2, func(t *testing.T, p string) {
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, 1},
		{"garbage in its place", 2, func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(strings.Repeat("garbage\n", 1000)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := spoolRecords(t, dir, 10*tc.files, 10)
			if len(files) != tc.files {
				t.Fatalf("%d spool files, want %d", len(files), tc.files)
			}
			s := &fakeSink{}
			s.down.Store(true)
			w := newSpoolWriter(t, dir, s)
			before := readBooks()
			if err := w.start(); err != nil {
				t.Fatal(err)
			}
			defer w.stop()
			testkit.WaitFor(t, "a failed replay", 5*time.Second, func() bool { return readBooks().since(before).insertErrors >= 1 })
			tc.make(t, files[0])
			// Dealt with while ClickHouse is still down: none of its rows can reach it.
			testkit.WaitFor(t, "the file to be set aside", 5*time.Second, func() bool { return w.spool.Stats().Files == tc.wantFiles })
			s.down.Store(false)
			testkit.WaitFor(t, "ClickHouse healthy again", 5*time.Second, func() bool { return w.healthy.Load() })
			testkit.WaitFor(t, "an empty spool", 5*time.Second, func() bool { return w.spool.Stats().Files == 0 })
			rows, _ := s.rows()
			got := readBooks().since(before)
			if want := 10 * (tc.files - 1); rows != want || got.replayed != float64(want) || got.unreadable != 10 || got.corrupt != 0 {
				t.Errorf("rows %d, replayed %v, unreadable %v, corrupt %v; want %d, %d, 10, 0", rows, got.replayed, got.unreadable, got.corrupt, want, want)
			}
			if _, err := os.Lstat(files[0]); err == nil {
				t.Error("the unreadable file is still in the spool directory")
			}
			_, err := os.Lstat(filepath.Join(dir, "quarantine", filepath.Base(files[0])))
			if tc.setAside && err != nil {
				t.Errorf("not in the quarantine folder: %v", err)
			}
			// Writing resumes: new records go to ClickHouse, not to the spool.
			for i := range 10 {
				w.enqueue(recordtest.Capture(t, fmt.Sprintf("after%d.example.org.", i)))
			}
			testkit.WaitFor(t, "new records written", 5*time.Second, func() bool { n, _ := s.rows(); return n == rows+10 })
			if got := readBooks().since(before).spooled; got != 0 {
				t.Errorf("%v new records spooled after ClickHouse came back", got)
			}
		})
	}
}

// A spool file copied into the directory while CoreDNS runs is replayed.
func TestSpoolFileCopiedInIsReplayed(t *testing.T) {
	files := spoolRecords(t, t.TempDir(), 10, 10)
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &fakeSink{}
	w := newSpoolWriter(t, dir, s)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	os.WriteFile(filepath.Join(dir, filepath.Base(files[0])), data, 0o600)
	testkit.WaitFor(t, "the copied file replayed", 5*time.Second, func() bool { n, _ := s.rows(); return n == 10 })
	testkit.WaitFor(t, "an empty spool", 5*time.Second, func() bool { return w.spool.Stats().Files == 0 })
}
