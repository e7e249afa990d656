package nativeblock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/passivedns/passivedns/internal/chdbtest"
)

// freshDB creates a database with the portable responses table on the 18.16 server.
func freshDB(t *testing.T, name string) {
	t.Helper()
	for _, q := range []string{"DROP DATABASE IF EXISTS `" + name + "`", "CREATE DATABASE `" + name + "`", responsesDDL(name, false)} {
		if _, err := testCH.Query(q); err != nil {
			t.Fatal(err)
		}
	}
}

func inserter(t testing.TB, db string) *Inserter {
	t.Helper()
	in, err := NewInserter(Config{URL: "http://" + testCH.HTTPAddr + "/", Database: db})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

// TestInsert1816 inserts the odd rows twice through one Inserter and reused blocks (the
// second batch must not carry anything of the first), the second time as two blocks in one
// insert, and reads every column back as bytes.
func TestInsert1816(t *testing.T) {
	const db = "nb_insert"
	freshDB(t, db)
	in := inserter(t, db)
	b, b2 := New(false), New(false)
	rows := oddRows()
	var want []string
	for batch, id := range []uint64{1 << 63, 42} {
		b.Reset()
		b2.Reset()
		blocks := []*Responses{b}
		if batch == 1 {
			blocks = append(blocks, b2)
		}
		for i := range rows {
			r := rows[i]
			r.dur += uint32(batch * 100)
			r.appendTo(blocks[i*len(blocks)/len(rows)])
			want = append(want, r.expect(id))
		}
		if err := in.Insert(context.Background(), blocks, id); err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
	}
	out, err := testCH.Query(readBack("`"+db+"`.responses", false))
	if err != nil {
		t.Fatal(err)
	}
	got := lines(out)
	if len(got) != len(want) {
		t.Fatalf("%d rows landed, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %.400s\nwant %.400s", i, got[i], want[i])
		}
	}
}

// TestInsertErrors: the server's refusals come back as Exceptions with their codes, and
// only bad rows count as rejected.
func TestInsertErrors(t *testing.T) {
	const db = "nb_errors"
	freshDB(t, db)
	rows := oddRows()
	tests := []struct {
		name     string
		db       string
		mutate   func(*Responses)
		code     int
		rejected bool
	}{
		{"unknown database", "nb_missing", nil, 81, false},
		{"short block", db, func(b *Responses) { *b.Flags = (*b.Flags)[:0] }, 0, true},
		// 18.16 casts without converting: a table that is not what the block says is a
		// schema problem, not bad rows.
		{"type mismatch", "nb_mismatch", nil, 368, false}, // BAD_CAST
	}
	if _, err := testCH.Query("CREATE DATABASE IF NOT EXISTS nb_mismatch"); err != nil {
		t.Fatal(err)
	}
	if _, err := testCH.Query(strings.Replace(responsesDDL("nb_mismatch", false), "flags UInt16", "flags UInt8", 1)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(false)
			rows[0].appendTo(b)
			if tt.mutate != nil {
				tt.mutate(b)
			}
			err := inserter(t, tt.db).Insert(context.Background(), []*Responses{b}, 1)
			if tt.name == "short block" {
				// A block whose columns disagree is refused before it is sent.
				if err == nil || !strings.Contains(err.Error(), "rows") {
					t.Fatalf("want an encoding error, got %v", err)
				}
				return
			}
			var ex *Exception
			if !errors.As(err, &ex) || ex.Code != tt.code {
				t.Fatalf("want exception code %d, got %v", tt.code, err)
			}
			if Rejected(err) != tt.rejected {
				t.Errorf("Rejected = %v, want %v", !tt.rejected, tt.rejected)
			}
		})
	}
}

func TestParseException(t *testing.T) {
	tests := []struct {
		header, text string
		code         int
		rejected     bool
	}{
		{"", "Code: 60, e.displayText() = DB::Exception: Table x.y doesn't exist., e.what() = DB::Exception\n", 60, false},
		{"", "Code: 27. DB::Exception: Cannot parse input: expected '\\t' before: 'x' (CANNOT_PARSE_INPUT_ASSERTION_FAILED) (version 26.1.1.1)", 27, true},
		{"53", "Code: 53. DB::Exception: Type mismatch", 53, true},
		{"", "Bad Gateway", 0, false},
	}
	for _, tt := range tests {
		e := parseException(500, tt.header, []byte(tt.text))
		if e.Code != tt.code || Rejected(e) != tt.rejected {
			t.Errorf("%q: code %d rejected %v, want %d %v", tt.text, e.Code, Rejected(e), tt.code, tt.rejected)
		}
	}
}

// TestDedupToken: the modern flavor sends insert_deduplication_token, which 18.16 refuses
// as an unknown setting: the flavor decides which servers get it.
func TestDedupToken(t *testing.T) {
	in, err := NewInserter(Config{URL: "http://" + testCH.HTTPAddr + "/", Database: "nb_errors", Modern: true})
	if err != nil {
		t.Fatal(err)
	}
	b := New(true)
	r := oddRows()[0]
	r.appendTo(b)
	err = in.Insert(context.Background(), []*Responses{b}, 7)
	var ex *Exception
	if !errors.As(err, &ex) || ex.Code != 115 { // UNKNOWN_SETTING
		t.Fatalf("want UNKNOWN_SETTING from 18.16, got %v", err)
	}
}

// TestEncode26 proves the encoding on ClickHouse 26.x: the blocks of both flavors, written
// to files, are inserted with the Native input format (what the HTTP interface runs) into
// tables of their flavor, and read back byte for byte, as are blocks of rows copied with
// AppendRow. Modern blocks also read through file() with an explicit structure.
func TestEncode26(t *testing.T) {
	s, err := chdbtest.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	exec := func(t *testing.T, q string) string {
		t.Helper()
		out, err := s.Exec(q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		return out
	}
	for _, modern := range []bool{false, true} {
		name := map[bool]string{false: "portable", true: "modern"}[modern]
		t.Run(name, func(t *testing.T) {
			db := "nb_" + name
			exec(t, "CREATE DATABASE IF NOT EXISTS "+db)
			// load inserts a block into a fresh table as the HTTP interface would and
			// checks every column of every row.
			load := func(t *testing.T, table string, b *Responses, id uint64, want []string, more ...*Responses) string {
				t.Helper()
				exec(t, strings.Replace(responsesDDL(db, modern), "`responses`", "`"+table+"`", 1))
				var buf proto.Buffer
				for _, blk := range append([]*Responses{b}, more...) {
					if err := blk.Encode(&buf, id); err != nil {
						t.Fatal(err)
					}
				}
				file := filepath.Join(t.TempDir(), "block.native")
				if err := os.WriteFile(file, buf.Buf, 0o644); err != nil {
					t.Fatal(err)
				}
				cols := make([]string, 0)
				for _, c := range b.Columns() {
					cols = append(cols, "`"+c+"`")
				}
				exec(t, "INSERT INTO "+db+"."+table+" ("+strings.Join(cols, ", ")+") FROM INFILE '"+file+"' FORMAT Native")
				got := lines(exec(t, readBack(db+"."+table, modern)))
				if len(got) != len(want) {
					t.Fatalf("%d rows, want %d", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("row %d:\n got %.400s\nwant %.400s", i, got[i], want[i])
					}
				}
				return file
			}
			b := New(modern)
			rows := oddRows()
			var want []string
			for i := range rows {
				rows[i].appendTo(b)
				want = append(want, rows[i].expect(99))
			}
			file := load(t, "responses", b, 99, want)
			// Some rows copied into another block, as a retry of the days that did not land.
			sub := New(modern)
			want = want[:0]
			for _, i := range []int{3, 1} {
				sub.AppendRow(b, i)
				want = append(want, rows[i].expect(5))
			}
			load(t, "subset", sub, 5, []string{want[1], want[0]})
			// The rows decoded into a block of the other flavor (before the writer knew the
			// server's), converted as the sink converts them.
			other, conv := New(!modern), New(modern)
			want = want[:0]
			for i := range rows {
				rows[i].appendTo(other)
				conv.AppendRow(other, i)
				want = append(want, rows[i].expect(6))
			}
			load(t, "converted", conv, 6, want)
			// Two blocks one after the other, as an insert of a batch sends them.
			first, second := New(modern), New(modern)
			want = want[:0]
			for i := range rows {
				rows[i].appendTo([]*Responses{first, second}[i*2/len(rows)])
				want = append(want, rows[i].expect(8))
			}
			load(t, "two_blocks", first, 8, want, second)
			if !modern {
				return
			}
			// The block's own types, as file() reads them without a table.
			desc := exec(t, "DESCRIBE file('"+file+"', 'Native') FORMAT TSVRaw")
			for _, typ := range []string{"DateTime64(3, 'UTC')", "IPv6", "LowCardinality(String)", "Array(LowCardinality(String))"} {
				if !strings.Contains(desc, "\t"+typ+"\t") && !strings.Contains(desc, "\t"+typ+"\n") {
					t.Errorf("block has no %s column:\n%s", typ, desc)
				}
			}
			n := exec(t, "SELECT count(), sum(length(`answer.name`)), toString(max(time)) FROM file('"+file+"', 'Native', "+
				"'time DateTime64(3, ''UTC''), sensor LowCardinality(String), server LowCardinality(String), transport LowCardinality(String), client IPv6, qname String, "+
				"qtype LowCardinality(String), qclass LowCardinality(String), rcode LowCardinality(String), flags UInt16, "+
				"`answer.name` Array(String), `answer.type` Array(LowCardinality(String)), `answer.class` Array(LowCardinality(String)), `answer.ttl` Array(UInt32), `answer.data` Array(String), "+
				"`authority.name` Array(String), `authority.type` Array(LowCardinality(String)), `authority.class` Array(LowCardinality(String)), `authority.ttl` Array(UInt32), `authority.data` Array(String), "+
				"size UInt32, duration_us UInt32, batch_id UInt64')")
			if n != "5\t44\t2026-12-01 00:00:01.987\n" {
				t.Errorf("file() read %q", n)
			}
		})
	}
}

// TestAppendRow: a block of some rows of another, as a retry sends the days that did not
// land, stores exactly those rows on 18.16 (TestEncode26 checks both flavors on 26.x).
func TestAppendRow(t *testing.T) {
	const db = "nb_subset"
	freshDB(t, db)
	rows := oddRows()
	src := New(false)
	for i := range rows {
		rows[i].appendTo(src)
	}
	sub := New(false)
	var want []string
	for _, i := range []int{1, 3, 4} {
		sub.AppendRow(src, i)
		if !src.TimeAt(i).Equal(rows[i].time.Truncate(time.Millisecond)) || string(src.QNameAt(i)) != rows[i].qname {
			t.Errorf("row %d: TimeAt %v QNameAt %q, want %v %q", i, src.TimeAt(i), src.QNameAt(i), rows[i].time, rows[i].qname)
		}
		want = append(want, rows[i].expect(3))
	}
	if err := inserter(t, db).Insert(context.Background(), []*Responses{sub}, 3); err != nil {
		t.Fatal(err)
	}
	out, err := testCH.Query(readBack(db+".responses", false))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines(out), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got\n%.600s\nwant\n%.600s", got, strings.Join(want, "\n"))
	}
	modern := New(true)
	for i := range rows {
		rows[i].appendTo(modern)
	}
	for _, i := range []int{0, 3} {
		if !modern.TimeAt(i).Equal(rows[i].time.Truncate(time.Millisecond)) {
			t.Errorf("modern row %d: TimeAt %v, want %v", i, modern.TimeAt(i), rows[i].time)
		}
	}
	// Between flavors, both ways: the same bytes once converted back to portable.
	toModern, back := New(true), New(false)
	for i := range rows {
		toModern.AppendRow(src, i)
	}
	for i := range rows {
		back.AppendRow(toModern, i)
	}
	var a, b proto.Buffer
	if err := src.Encode(&a, 7); err != nil {
		t.Fatal(err)
	}
	if err := back.Encode(&b, 7); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Buf, b.Buf) {
		t.Error("a portable block converted to modern and back encodes differently")
	}
}

// TestInsertStreamsBlocks: an insert's body is the blocks' encoding, sent chunked and
// encoded a block at a time, so the Inserter holds one block's bytes, not the batch's.
func TestInsertStreamsBlocks(t *testing.T) {
	const blocks, rows = 8, 1024
	mix := benchMix(rows)
	var batch []*Responses
	var want proto.Buffer
	largest := 0
	for range blocks {
		blk := New(false)
		for i := range mix {
			mix[i].appendTo(blk)
		}
		before := len(want.Buf)
		if err := blk.Encode(&want, 9); err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(want.Buf)-before)
		batch = append(batch, blk)
	}
	var got []byte
	var chunked bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked = slices.Contains(r.TransferEncoding, "chunked")
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	in, err := NewInserter(Config{URL: srv.URL + "/", Database: "db"})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second reuses the Inserter's buffer
		if err := in.Insert(context.Background(), batch, 9); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Buf) {
			t.Fatalf("round %d: the server got %d bytes, not the %d of the blocks' encoding", round, len(got), len(want.Buf))
		}
		if !chunked {
			t.Errorf("round %d: the body was not sent chunked", round)
		}
		if c := cap(in.body.Buf); c > 2*largest {
			t.Errorf("round %d: the Inserter holds %d bytes for a body of %d in blocks of at most %d", round, c, len(want.Buf), largest)
		}
	}
}
