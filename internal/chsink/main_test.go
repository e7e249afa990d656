package chsink_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
)

// Integration tests of the sink against the server TestMain starts (ClickHouse 18.16, the
// legacy flavor, unless PASSIVEDNS_TEST_CLICKHOUSE names another). Rows are read back over
// the native protocol with clickhouse-go, so strings compare byte for byte with no escaping
// in between.

// testCH is the ClickHouse server of this package's tests; when it cannot be started the
// whole package fails, nothing is skipped.
var testCH *chtest.Server

var testLog = clog.NewWithPlugin("passivedns")

func TestMain(m *testing.M) {
	clog.Discard()
	os.Exit(chtest.Main(m, &testCH))
}

// options are sink options for database db on testCH, as the plugin's setup builds them.
func options(t testing.TB, db string) chsink.Options {
	t.Helper()
	ch, err := clickhouse.ParseDSN(testCH.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	ch.Auth.Database = "" // the sink names its database in every statement
	return chsink.Options{ClickHouse: ch, Database: db, AutoSchema: true, Log: testLog}
}

// newSink returns a sink for opts that is closed when the test ends.
func newSink(t *testing.T, opts chsink.Options) *chsink.Sink {
	t.Helper()
	s := chsink.New(opts)
	t.Cleanup(func() { s.Close() })
	return s
}

// preparedSink returns a sink for a new database of the test's own, schema created.
func preparedSink(t *testing.T) (*chsink.Sink, string) {
	t.Helper()
	db := testCH.TestDB(t)
	s := newSink(t, options(t, db))
	if err := s.Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return s, db
}

// flavor is the flavor the sink picks for testCH.
func flavor(t *testing.T) schema.Flavor {
	t.Helper()
	var v string
	if err := testCH.Conn(t).QueryRow(chtest.Ctx(t), "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return schema.DetectFlavor(v)
}

func mustWrite(t *testing.T, s *chsink.Sink, b *record.Batch) {
	t.Helper()
	if err := s.Write(chtest.Ctx(t), b); err != nil {
		t.Fatalf("write (%d rows, uncertain %v): %v", b.Len(), b.Uncertain, err)
	}
}

// historyRow is one finalised row of history (and, with Key, of the other history tables).
type historyRow struct {
	Key                  string // ip or target; empty for history
	RRName, RRType, Data string
	First, Last          time.Time
	Count                uint64
}

func (r historyRow) String() string {
	return fmt.Sprintf("{%q %q %q %q %s %s %d}", r.Key, r.RRName, r.RRType, r.Data,
		r.First.UTC().Format(time.RFC3339Nano), r.Last.UTC().Format(time.RFC3339Nano), r.Count)
}

// historyQuery runs q, whose columns are key, rrname, rrtype, rdata, first, last, count.
func historyQuery(t *testing.T, q string) []historyRow {
	t.Helper()
	rows, err := testCH.Conn(t).Query(chtest.Ctx(t), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []historyRow
	for rows.Next() {
		var r historyRow
		if err := rows.Scan(&r.Key, &r.RRName, &r.RRType, &r.Data, &r.First, &r.Last, &r.Count); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// history reads the user-facing history view.
func history(t *testing.T, db string) []historyRow {
	t.Helper()
	return historyQuery(t, "SELECT '', rrname, rrtype, rdata, time_first, time_last, count FROM `"+db+
		"`.history ORDER BY rrname, rrtype, rdata")
}

// historyByIP finalises history_by_ip.
func historyByIP(t *testing.T, db string, f schema.Flavor) []historyRow {
	t.Helper()
	return historyQuery(t, "SELECT "+chtest.IPText(f.Modern, "ip")+" AS k, rrname, rrtype, '', minMerge(time_first), maxMerge(time_last), countMerge(count) FROM `"+
		db+"`.history_by_ip GROUP BY ip, rrname, rrtype ORDER BY rrname, k")
}

// historyByRdata finalises history_by_rdata.
func historyByRdata(t *testing.T, db string) []historyRow {
	t.Helper()
	return historyQuery(t, "SELECT target, rrname, rrtype, rdata, minMerge(time_first), maxMerge(time_last), countMerge(count) FROM `"+
		db+"`.history_by_rdata GROUP BY target, rrname, rrtype, rdata ORDER BY target, rrname, rdata")
}

// histTime is t as the history tables of flavor f hold it: whole seconds on legacy.
func histTime(f schema.Flavor, t time.Time) time.Time {
	if f.Modern {
		return t.Truncate(time.Millisecond)
	}
	return t.Truncate(time.Second)
}

func compareHistory(t *testing.T, what string, got, want []historyRow) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.Key == w.Key && g.RRName == w.RRName && g.RRType == w.RRType && g.Data == w.Data &&
			g.First.Equal(w.First) && g.Last.Equal(w.Last) && g.Count == w.Count
	}
	if !same {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// sortedByTime returns the row indexes of b in the order testCH.Responses reads them.
func sortedByTime(b *record.Batch) []int {
	idx := make([]int, b.Len())
	for i := range idx {
		idx[i] = i
	}
	less := func(i, j int) bool {
		ti, tj := b.Rows().Time[i].Truncate(time.Millisecond), b.Rows().Time[j].Truncate(time.Millisecond)
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return b.Rows().QName[i] < b.Rows().QName[j]
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// TestClickHouseOddNames stores names and record data that need escaping and checks that

func bytesOf(c byte, n int) []byte { return []byte(strings.Repeat(string([]byte{c}), n)) }

// label is the presentation form of raw label (or TXT string) bytes, every byte as \DDD,
// so it means exactly those bytes to miekg/dns whatever they are.
func label(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%03d", c)
	}
	return s.String()
}

func wireLen(t *testing.T, name string) int {
	t.Helper()
	buf := make([]byte, 512)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("packing %q: %v", name, err)
	}
	return n
}
