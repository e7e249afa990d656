package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miekg/dns"
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
