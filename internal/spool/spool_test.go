package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
)

func openTestSpool(t *testing.T, max int64) *Dir {
	t.Helper()
	d, err := Open(t.TempDir(), max, clog.NewWithPlugin("passivedns"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestSpoolRoundTrip(t *testing.T) {
	d := openTestSpool(t, DefaultSize)
	b := recordtest.Batch(t, 50)
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
	got, caps, damaged, err := ReadFile(filepath.Join(d.Path, f.Name))
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
		{"flipped payload byte", func(p []byte) []byte { p[HeaderLen+FrameLen+20] ^= 0xff; return p }, 9, 1},
		{"flipped length", func(p []byte) []byte { p[HeaderLen+5] ^= 0x40; return p }, 9, 1},
		{"garbage in the middle", func(p []byte) []byte {
			mid := len(p) / 2
			return append(append(slices.Clone(p[:mid]), []byte("garbage!")...), p[mid:]...)
		}, 9, 1},
		{"damaged header", func(p []byte) []byte { p[0] = 'X'; return p }, 10, 1},
		{"empty file", func(p []byte) []byte { return nil }, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := openTestSpool(t, DefaultSize)
			if _, err := d.Write(recordtest.Batch(t, 10)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(d.Path, d.files[0].Name)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, tc.damage(data), 0o600)
			_, caps, damaged, err := ReadFile(path)
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
	d := openTestSpool(t, smallSpool)
	total := 0
	for {
		b := recordtest.Batch(t, 100)
		n, err := d.Write(b)
		total += n
		if err != nil {
			if err != ErrFull {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	st := d.Stats()
	if st.Bytes > smallSpool {
		t.Errorf("spool grew to %d bytes, past its %d limit", st.Bytes, smallSpool)
	}
	if st.Records != int64(total) {
		t.Errorf("spool says %d records, %d were written", st.Records, total)
	}
	if n, err := d.Write(recordtest.Batch(t, 1)); n != 0 || err != ErrFull {
		t.Errorf("write to a full spool: %d, %v", n, err)
	}
}

func TestSpoolSharedWithinProcess(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, DefaultSize, clog.NewWithPlugin("passivedns"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, DefaultSize, clog.NewWithPlugin("passivedns"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("two instances of one directory in one process: replay could double")
	}
	a.Close()
	b.Close()
	c, err := Open(dir, DefaultSize, clog.NewWithPlugin("passivedns")) // reopened after the last close
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// FuzzSpoolFile reads arbitrary bytes as a spool file: damage is counted, never a panic,
// and a record that passes the checksum is one that was written.
func FuzzSpoolFile(f *testing.F) {
	b := recordtest.Batch(f, 3)
	var good []byte
	good = append(good, HeaderMagic...)
	good = append(good, 0, 0, 0, 0, 0, 0, 0, 1, 0)
	for i := range b.Caps {
		good = AppendRecord(good, &b.Caps[i])
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte("PDNS"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.spool")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, caps, _, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range caps {
			if len(c.Wire) > MaxRecordLen {
				t.Fatalf("oversized record accepted")
			}
		}
	})
}

// smallSpool is the smallest spool the Corefile accepts.
const smallSpool = 64 << 10

// One Reader reads file after file: each read gives that file's batch id and records,
// nothing of the file before, though its buffers, captures and batch are reused.
func TestReaderReused(t *testing.T) {
	d := openTestSpool(t, DefaultSize)
	servers := []string{"dns://:53", "tls://:853", "dns://:53", "https://:443"}
	var written [][]record.Capture
	var ids []uint64
	for k, n := range []int{50, 7, 30} {
		b := recordtest.Batch(t, n)
		for i := range b.Caps {
			b.Caps[i].Server = servers[(i+k)%len(servers)]
			b.Caps[i].Transport, _, _ = strings.Cut(b.Caps[i].Server, ":")
		}
		if _, err := d.Write(b); err != nil {
			t.Fatal(err)
		}
		written, ids = append(written, slices.Clone(b.Caps)), append(ids, b.ID)
	}
	var r Reader
	for k, want := range written {
		f, ok := d.ClaimOldest()
		if !ok {
			t.Fatalf("file %d: nothing to claim", k)
		}
		b, caps, lost, err := d.ReadInto(f, &r)
		if err != nil || lost != 0 || b.ID != ids[k] || !b.Uncertain || b.Len() != 0 || len(b.Caps) != 0 {
			t.Fatalf("file %d: %v, %d lost, id %x (want %x), uncertain %v, batch %d rows %d captures",
				k, err, lost, b.ID, ids[k], b.Uncertain, b.Len(), len(b.Caps))
		}
		if len(caps) != len(want) {
			t.Fatalf("file %d: %d records, want %d", k, len(caps), len(want))
		}
		for i, c := range caps {
			w := want[i]
			if !slices.Equal(c.Wire, w.Wire) || !c.Time.Equal(w.Time) || c.Server != w.Server || c.Transport != w.Transport {
				t.Fatalf("file %d record %d: got %+v, want %+v", k, i, c, w)
			}
		}
		d.Remove(f)
	}
}
