package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
)

// bigBatch is n captures of about 190 bytes each on disk, as real answers are.
func bigBatch(t *testing.T, n int) *record.Batch {
	t.Helper()
	b := &record.Batch{ID: record.NewBatchID()}
	long := strings.Repeat("a", 60)
	for i := range n {
		b.Caps = append(b.Caps, recordtest.Capture(t, fmt.Sprintf("%s.%s.n%d.example.org.", long, long, i)))
	}
	return b
}

// frameEnds returns where each record of an intact spool file ends, walking the frames
// by their lengths alone.
func frameEnds(t *testing.T, data []byte) (starts, ends []int) {
	t.Helper()
	for off := HeaderLen; off < len(data); {
		n := int(binary.BigEndian.Uint32(data[off+4:]))
		starts, ends = append(starts, off), append(ends, off+FrameLen+n)
		off += FrameLen + n
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		t.Fatalf("the file is not a sequence of frames")
	}
	return starts, ends
}

// overlapping counts the records with a byte in [from, to).
func overlapping(starts, ends []int, from, to int) int {
	n := 0
	for i := range starts {
		if starts[i] < to && ends[i] > from {
			n++
		}
	}
	return n
}

// Read measures damage in records against the count the name carries, not in damaged
// stretches: a zeroed region or a cut tail loses every record it touches.
func TestReadCountsLostRecords(t *testing.T) {
	const records = 600
	tests := []struct {
		name   string
		damage func(data []byte, starts, ends []int) ([]byte, int) // damaged file, records lost
	}{
		{"nothing", func(p []byte, s, e []int) ([]byte, int) { return p, 0 }},
		{"3,000 bytes zeroed", func(p []byte, s, e []int) ([]byte, int) {
			from := len(p) / 3
			clear(p[from : from+3000])
			return p, overlapping(s, e, from, from+3000)
		}},
		{"19 KB cut off the tail", func(p []byte, s, e []int) ([]byte, int) {
			cut := len(p) - 19*1024
			return p[:cut], overlapping(s, e, cut, len(p))
		}},
		{"one byte flipped", func(p []byte, s, e []int) ([]byte, int) { p[s[7]+FrameLen+30] ^= 0x01; return p, 1 }},
		{"header zeroed", func(p []byte, s, e []int) ([]byte, int) { clear(p[:HeaderLen]); return p, 0 }},
		{"every record zeroed", func(p []byte, s, e []int) ([]byte, int) { clear(p[HeaderLen:]); return p, records }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := openTestSpool(t, DefaultSize)
			if n, err := d.Write(bigBatch(t, records)); n != records || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			f, _ := d.ClaimOldest()
			path := filepath.Join(d.Path, f.Name)
			data, _ := os.ReadFile(path)
			starts, ends := frameEnds(t, data)
			damaged, want := tc.damage(data, starts, ends)
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			_, caps, lost, err := d.Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if f.Records() != records || lost != want || len(caps)+lost != records {
				t.Errorf("the name says %d records; read %d intact and %d lost, want %d lost", f.Records(), len(caps), lost, want)
			}
			t.Logf("%s: %d of %d records lost", tc.name, lost, records)
		})
	}
}

// A file copied in under a name without a count: damage can only be counted in stretches.
func TestReadNameWithoutCount(t *testing.T) {
	d := openTestSpool(t, DefaultSize)
	d.Write(bigBatch(t, 20))
	data, _ := os.ReadFile(filepath.Join(d.Path, d.files[0].Name))
	clear(data[len(data)/2 : len(data)/2+1000])
	os.WriteFile(filepath.Join(d.Path, "copied.spool"), data, 0o600)
	if d.Rescan() != 1 {
		t.Fatal("the copied file was not found")
	}
	f := d.files[1]
	if f.Name != "copied.spool" {
		t.Fatalf("files %v", d.files)
	}
	_, caps, lost, err := d.Read(f)
	if err != nil || len(caps) >= 20 || lost != 1 {
		t.Errorf("read %d intact, %d lost (%v); want under 20 intact and 1 damaged stretch", len(caps), lost, err)
	}
}

// unreadable makes the spool file at path unreadable in one way.
var unreadable = []struct {
	name     string
	make     func(t *testing.T, path string)
	setAside bool // moved to the quarantine folder (else it is gone)
}{
	{"removed", func(t *testing.T, p string) { os.Remove(p) }, false},
	{"directory named like a spool file", func(t *testing.T, p string) {
		os.Remove(p)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}, true},
	{"dangling symlink", func(t *testing.T, p string) {
		os.Remove(p)
		if err := os.Symlink(p+".gone", p); err != nil {
			t.Fatal(err)
		}
	}, true},
	{"symlink to a good file", func(t *testing.T, p string) {
		// A link is not followed: the spool never reads outside its directory.
		if err := os.Rename(p, p+".elsewhere"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p+".elsewhere", p); err != nil {
			t.Fatal(err)
		}
	}, true},
	{"FIFO", func(t *testing.T, p string) {
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}, true},
	{"garbage", func(t *testing.T, p string) {
		if err := os.WriteFile(p, []byte(strings.Repeat("not a spool file\n", 500)), 0o600); err != nil {
			t.Fatal(err)
		}
	}, true},
	{"empty", func(t *testing.T, p string) {
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}, true},
}

// readWithin reads f, failing the test if that hangs (a FIFO opened for reading waits
// for a writer).
func readWithin(t *testing.T, d *Dir, f File) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, _, _, err := d.Read(f); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("reading the file hangs")
		return nil
	}
}

func TestUnreadableSetAside(t *testing.T) {
	for _, tc := range unreadable {
		t.Run(tc.name, func(t *testing.T) {
			d := openTestSpool(t, DefaultSize)
			d.Write(recordtest.Batch(t, 10))
			d.Write(recordtest.Batch(t, 5))
			f, _ := d.ClaimOldest()
			path := filepath.Join(d.Path, f.Name)
			tc.make(t, path)

			err := readWithin(t, d, f)
			if !errors.Is(err, ErrUnreadable) {
				t.Fatalf("read: %v, want ErrUnreadable", err)
			}
			if n := d.SetAside(f, err); n != 10 {
				t.Errorf("set aside %d records, want the 10 of its name", n)
			}
			if st := d.Stats(); st.Files != 1 || st.Records != 5 || st.SetAside != 1 {
				t.Errorf("stats after setting aside %+v", st)
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still in the spool directory (%v)", f.Name, err)
			}
			_, err = os.Lstat(filepath.Join(d.Path, QuarantineDir, f.Name))
			if tc.setAside && err != nil {
				t.Errorf("not in the quarantine folder: %v", err)
			}
			// The replay goes on with the next file; a rescan does not bring it back.
			d.Rescan()
			next, ok := d.ClaimOldest()
			if !ok || next.Records() != 5 {
				t.Fatalf("next file %+v, %v", next, ok)
			}
			if _, caps, lost, err := d.Read(next); err != nil || len(caps) != 5 || lost != 0 {
				t.Errorf("next file: %d records, %d lost, %v", len(caps), lost, err)
			}
		})
	}
}

// Two files set aside under one name (a directory, then again) do not overwrite each other.
func TestQuarantineKeepsBoth(t *testing.T) {
	d := openTestSpool(t, DefaultSize)
	name := spoolName(7, 3)
	for i := range 2 {
		os.WriteFile(filepath.Join(d.Path, name), []byte(fmt.Sprint("garbage ", i)), 0o600)
		d.Rescan()
		f, ok := d.ClaimOldest()
		if !ok {
			t.Fatal("nothing to claim")
		}
		_, _, _, err := d.Read(f)
		d.SetAside(f, err)
	}
	entries, _ := os.ReadDir(filepath.Join(d.Path, QuarantineDir))
	if len(entries) != 2 {
		t.Errorf("quarantine holds %d entries, want 2", len(entries))
	}
}

// A spool directory holding odd entries never fails the start: they are listed for the
// replay to set aside, or (a .part of a dead process) finished or set aside at once.
func TestOpenSurvivesOddEntries(t *testing.T) {
	dir := t.TempDir()
	// A good file, written by an earlier process.
	first, err := Open(dir, DefaultSize, clog.NewWithPlugin("passivedns"))
	if err != nil {
		t.Fatal(err)
	}
	first.Write(recordtest.Batch(t, 10))
	good, _ := os.ReadFile(filepath.Join(dir, first.files[0].Name))
	first.Close()

	os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, spoolName(2, 4)))
	os.Mkdir(filepath.Join(dir, spoolName(3, 4)), 0o700)
	syscall.Mkfifo(filepath.Join(dir, fmt.Sprintf("%020d%s", 4, spoolPartSuffix)), 0o600)
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 5, spoolPartSuffix)), []byte("garbage"), 0o600)
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 6, spoolPartSuffix)), nil, 0o600)
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 7, spoolPartSuffix)), good[:len(good)-5], 0o600) // torn last record

	opened := make(chan error, 1)
	var d *Dir
	go func() {
		var err error
		d, err = Open(dir, DefaultSize, clog.NewWithPlugin("passivedns"))
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("open: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("open hangs")
	}
	defer d.Close()
	var names []string
	for _, f := range d.files {
		names = append(names, f.Name)
	}
	want := []string{spoolName(1, 10), spoolName(2, 4), spoolName(3, 4), spoolName(7, 10)}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", names, want)
	}
	for _, name := range []string{fmt.Sprintf("%020d%s", 4, spoolPartSuffix), fmt.Sprintf("%020d%s", 5, spoolPartSuffix)} {
		if _, err := os.Lstat(filepath.Join(dir, QuarantineDir, name)); err != nil {
			t.Errorf("%s not set aside: %v", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, fmt.Sprintf("%020d%s", 6, spoolPartSuffix))); err == nil {
		t.Error("the empty .part is still there")
	}
	// The torn .part counts its torn record, so that replay counts it as lost.
	f := d.files[3]
	if _, caps, lost, err := d.Read(f); err != nil || len(caps) != 9 || lost != 1 {
		t.Errorf("torn .part: %d intact, %d lost, %v; want 9 and 1", len(caps), lost, err)
	}
	// New files never take the name of one found.
	d.Write(recordtest.Batch(t, 1))
	if last := d.files[len(d.files)-1].Name; last != spoolName(8, 1) {
		t.Errorf("new file %s", last)
	}
}

// Files copied into the directory while it is in use are picked up by a rescan; a file
// replayed meanwhile is not brought back.
func TestRescan(t *testing.T) {
	src := openTestSpool(t, DefaultSize)
	src.Write(recordtest.Batch(t, 3))
	data, _ := os.ReadFile(filepath.Join(src.Path, src.files[0].Name))

	d := openTestSpool(t, DefaultSize)
	d.Write(recordtest.Batch(t, 2))
	f, _ := d.ClaimOldest()
	if err := d.Remove(f); err != nil {
		t.Fatal(err)
	}
	if n := d.Rescan(); n != 0 {
		t.Errorf("rescan of an unchanged directory found %d files", n)
	}
	os.WriteFile(filepath.Join(d.Path, spoolName(40, 3)), data, 0o600)
	os.WriteFile(filepath.Join(d.Path, fmt.Sprintf("%020d%s", 39, spoolPartSuffix)), data, 0o600) // a write in progress
	if n := d.Rescan(); n != 1 {
		t.Fatalf("rescan found %d files, want 1", n)
	}
	if st := d.Stats(); st.Files != 1 || st.Records != 3 {
		t.Errorf("stats %+v", st)
	}
	d.Write(recordtest.Batch(t, 1))
	if last := d.files[len(d.files)-1].Name; last != spoolName(41, 1) {
		t.Errorf("new file %s, want after the copied one", last)
	}
}
