package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"

	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// Integration tests of clickhouseSink and the writer against the server TestMain started
// (ClickHouse 18.16 unless PASSIVEDNS_TEST_CLICKHOUSE names another). Rows are read back over
// the native protocol with clickhouse-go, so strings compare byte for byte with no escaping
// in between.

const chTimeout = 30 * time.Second

func chCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chTimeout)
	t.Cleanup(cancel)
	return ctx
}

// chConfig is a sink configuration for database db on testCH, as parse would build it.
func chConfig(t *testing.T, db string) config {
	t.Helper()
	dsn := testCH.DSN(db)
	opts, parsedDB, err := parseDSN(dsn)
	if err != nil {
		t.Fatalf("parseDSN(%s): %v", dsn, err)
	}
	if parsedDB != db {
		t.Fatalf("parseDSN(%s): database %q, want %q", dsn, parsedDB, db)
	}
	return config{
		dsn: dsn, options: opts, database: db,
		batch: 1000, flush: 50 * time.Millisecond, queue: 10000,
		sensor: "sensor-1", clients: record.ClientsFull, schema: true,
	}
}

// chSink returns a sink for cfg that is closed when the test ends.
func chSink(t *testing.T, cfg config) *chsink.Sink {
	t.Helper()
	s := newSink(cfg)
	t.Cleanup(func() { s.Close() })
	return s
}

// chPreparedSink returns a sink for a new database of the test's own, schema created.
func chPreparedSink(t *testing.T) (*chsink.Sink, string) {
	t.Helper()
	db := chTestDB(t)
	s := chSink(t, chConfig(t, db))
	if err := s.Prepare(chCtx(t)); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return s, db
}

var (
	chConnOnce sync.Once
	chConnVal  driver.Conn
	chConnErr  error
)

// chConn is a clickhouse-go connection to testCH for reading back what the sink wrote.
func chConn(t *testing.T) driver.Conn {
	t.Helper()
	chConnOnce.Do(func() {
		var opts *clickhouse.Options
		if opts, chConnErr = clickhouse.ParseDSN(testCH.DSN("default")); chConnErr == nil {
			chConnVal, chConnErr = clickhouse.Open(opts)
		}
	})
	if chConnErr != nil {
		t.Fatalf("connecting to %s: %v", testCH.TCPAddr, chConnErr)
	}
	return chConnVal
}

// chFlavor is the flavor the sink picks for testCH.
func chFlavor(t *testing.T) schema.Flavor {
	t.Helper()
	var v string
	if err := chConn(t).QueryRow(chCtx(t), "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return schema.DetectFlavor(v)
}

func chExec(t *testing.T, sql string) {
	t.Helper()
	if _, err := testCH.Query(sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func chCount(t *testing.T, sql string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := chConn(t).QueryRow(chCtx(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// chIPText is SQL that prints an ip/client column of flavor f as text.
func chIPText(f schema.Flavor, col string) string {
	if f.Modern {
		return "toString(" + col + ")"
	}
	return "IPv6NumToString(" + col + ")"
}

// chMsg is a response to qname/qtype with rcode and the given answer records (zone file
// lines); flags RD and RA are set, AA too when aa is true.
func chMsg(t *testing.T, qname string, qtype uint16, rcode int, aa bool, answers ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response, m.RecursionAvailable, m.Authoritative, m.Rcode = true, true, aa, rcode
	for _, a := range answers {
		rr, err := dns.NewRR(a)
		if err != nil {
			t.Fatalf("dns.NewRR(%q): %v", a, err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

// chCapture is what the recorder would capture for m, packed the way recorder.capture packs
// it (uncompressed, with the client's compression noted for the size).
func chCapture(t *testing.T, m *dns.Msg, at time.Time, client string, transport string) record.Capture {
	t.Helper()
	u := m.Copy()
	u.Compress = false
	wire, err := u.Pack()
	if err != nil {
		t.Fatalf("packing %v: %v", m.Question, err)
	}
	c := record.Capture{
		Wire: wire, Time: at, Elapsed: 1500 * time.Microsecond,
		Server: "dns://.:53", Transport: transport, Compress: true,
	}
	if client != "" {
		c.Client = netip.MustParseAddr(client)
	}
	return c
}

// chBatch decodes captures into a new batch as the writer does.
func chBatch(t *testing.T, cs ...record.Capture) *record.Batch {
	t.Helper()
	b := &record.Batch{ID: record.NewBatchID()}
	d := new(record.Decoder)
	for i := range cs {
		if err := b.Add(&cs[i], d, "sensor-1"); err != nil {
			t.Fatalf("batch.add(capture %d): %v", i, err)
		}
	}
	return b
}

func chWrite(t *testing.T, s *chsink.Sink, b *record.Batch) {
	t.Helper()
	if err := s.Write(chCtx(t), b); err != nil {
		t.Fatalf("write (%d rows, uncertain %v): %v", b.Len(), b.Uncertain, err)
	}
}

// chResponse is one row of the responses table, the time at millisecond precision.
type chResponse struct {
	Time                                                    time.Time
	Sensor, Server, Transport, Client, Qname, Qtype, Qclass string
	Rcode                                                   string
	Flags                                                   uint16
	AnName, AnType, AnClass                                 []string
	AnTTL                                                   []uint32
	AnData                                                  []string
	NsName, NsType, NsClass                                 []string
	NsTTL                                                   []uint32
	NsData                                                  []string
	Size, DurationUs                                        uint32
	BatchID                                                 uint64
}

// chResponses reads every row of db.responses, ordered by time and qname. On the legacy
// flavor the milliseconds come from time_ms; on the modern one from the DateTime64 itself.
func chResponses(t *testing.T, db string) []chResponse {
	t.Helper()
	f := chFlavor(t)
	ms := "time_ms"
	if f.Modern {
		ms = "toUInt16(toUnixTimestamp64Milli(time) % 1000)"
	}
	q := fmt.Sprintf("SELECT toUnixTimestamp(time), %s, sensor, server, transport, %s, qname, qtype, qclass, rcode, flags,"+
		" answer.name, answer.type, answer.class, answer.ttl, answer.data,"+
		" authority.name, authority.type, authority.class, authority.ttl, authority.data,"+
		" size, duration_us, batch_id FROM `%s`.responses ORDER BY time, %s, qname", ms, chIPText(f, "client"), db, ms)
	rows, err := chConn(t).Query(chCtx(t), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []chResponse
	for rows.Next() {
		var r chResponse
		var sec uint32
		var msec uint16
		if err := rows.Scan(&sec, &msec, &r.Sensor, &r.Server, &r.Transport, &r.Client, &r.Qname, &r.Qtype, &r.Qclass, &r.Rcode, &r.Flags,
			&r.AnName, &r.AnType, &r.AnClass, &r.AnTTL, &r.AnData,
			&r.NsName, &r.NsType, &r.NsClass, &r.NsTTL, &r.NsData,
			&r.Size, &r.DurationUs, &r.BatchID); err != nil {
			t.Fatal(err)
		}
		r.Time = time.Unix(int64(sec), int64(msec)*int64(time.Millisecond)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// chHistoryRow is one finalised row of history (and, with Key, of the other history tables).
type chHistoryRow struct {
	Key                  string // ip or target; empty for history
	RRName, RRType, Data string
	First, Last          time.Time
	Count                uint64
}

func (r chHistoryRow) String() string {
	return fmt.Sprintf("{%q %q %q %q %s %s %d}", r.Key, r.RRName, r.RRType, r.Data,
		r.First.UTC().Format(time.RFC3339Nano), r.Last.UTC().Format(time.RFC3339Nano), r.Count)
}

// chHistoryQuery runs q, whose columns are key, rrname, rrtype, rdata, first, last, count.
func chHistoryQuery(t *testing.T, q string) []chHistoryRow {
	t.Helper()
	rows, err := chConn(t).Query(chCtx(t), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []chHistoryRow
	for rows.Next() {
		var r chHistoryRow
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

// chHistory reads the user-facing history view.
func chHistory(t *testing.T, db string) []chHistoryRow {
	t.Helper()
	return chHistoryQuery(t, "SELECT '', rrname, rrtype, rdata, time_first, time_last, count FROM `"+db+
		"`.history ORDER BY rrname, rrtype, rdata")
}

// chHistoryByIP finalises history_by_ip.
func chHistoryByIP(t *testing.T, db string, f schema.Flavor) []chHistoryRow {
	t.Helper()
	return chHistoryQuery(t, "SELECT "+chIPText(f, "ip")+" AS k, rrname, rrtype, '', minMerge(time_first), maxMerge(time_last), countMerge(count) FROM `"+
		db+"`.history_by_ip GROUP BY ip, rrname, rrtype ORDER BY rrname, k")
}

// chHistoryByRdata finalises history_by_rdata.
func chHistoryByRdata(t *testing.T, db string) []chHistoryRow {
	t.Helper()
	return chHistoryQuery(t, "SELECT target, rrname, rrtype, rdata, minMerge(time_first), maxMerge(time_last), countMerge(count) FROM `"+
		db+"`.history_by_rdata GROUP BY target, rrname, rrtype, rdata ORDER BY target, rrname, rdata")
}

// chHistTime is t as the history tables of flavor f hold it: whole seconds on legacy.
func chHistTime(f schema.Flavor, t time.Time) time.Time {
	if f.Modern {
		return t.Truncate(time.Millisecond)
	}
	return t.Truncate(time.Second)
}

func chCompareHistory(t *testing.T, what string, got, want []chHistoryRow) {
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

// TestClickHouseWriteRows writes one batch and checks every column of every row.
func TestClickHouseWriteRows(t *testing.T) {
	s, db := chPreparedSink(t)
	f := chFlavor(t)

	// A local time two hours east of UTC, just after midnight: the row belongs to the UTC
	// day before, and the stored time must be the same instant.
	t1 := time.Date(2024, 5, 1, 1, 0, 0, 123_456_789, time.FixedZone("UTC+2", 2*3600))
	t2 := time.Date(2024, 5, 1, 8, 30, 15, 7_000_000, time.UTC)
	t3 := time.Date(2024, 5, 1, 8, 30, 15, 999_999_999, time.UTC)

	// 1: NOERROR A + AAAA-less answer over UDP from an IPv4 client; the name is lowered.
	m1 := chMsg(t, "WWW.Example.ORG.", dns.TypeA, dns.RcodeSuccess, true,
		"WWW.Example.ORG. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2")
	c1 := chCapture(t, m1, t1, "10.240.0.1", "udp")
	// 2: NXDOMAIN with a SOA in authority over TCP from an IPv6 client, a huge duration.
	m2 := chMsg(t, "nx.example.org.", dns.TypeAAAA, dns.RcodeNameError, false)
	soa, err := dns.NewRR("example.org. 3600 IN SOA NS1.example.org. Hostmaster.example.org. 2024050101 7200 3600 1209600 300")
	if err != nil {
		t.Fatal(err)
	}
	m2.Ns = []dns.RR{soa}
	c2 := chCapture(t, m2, t2, "2001:db8::53", "tcp")
	c2.Elapsed = 2 * time.Hour // more microseconds than UInt32 holds: clamped
	// 3: CNAME chain and MX, client not recorded (clients off), written as raw bytes with a
	// known size, over DoT.
	m3 := chMsg(t, "alias.example.org.", dns.TypeMX, dns.RcodeSuccess, false,
		"alias.example.org. 60 IN CNAME Target.Example.org.", "target.example.org. 120 IN MX 10 Mail.Example.org.")
	c3 := chCapture(t, m3, t3, "", "tls")
	c3.Size, c3.Elapsed = 4242, 0

	b := chBatch(t, c1, c2, c3)
	chWrite(t, s, b)

	size := func(m *dns.Msg) uint32 {
		c := m.Copy()
		c.Compress = true
		w, err := c.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return uint32(len(w))
	}
	empty, emptyTTL := []string{}, []uint32{}
	want := []chResponse{
		{
			Time: time.Date(2024, 4, 30, 23, 0, 0, 123_000_000, time.UTC), Sensor: "sensor-1", Server: "dns://.:53", Transport: "udp",
			Client: "::ffff:10.240.0.1", Qname: "www.example.org.", Qtype: "A", Qclass: "IN", Rcode: "NOERROR",
			Flags:  0x8000 | 0x0400 | 0x0100 | 0x0080, // QR AA RD RA
			AnName: []string{"www.example.org.", "www.example.org."}, AnType: []string{"A", "A"}, AnClass: []string{"IN", "IN"},
			AnTTL: []uint32{300, 300}, AnData: []string{"192.0.2.1", "192.0.2.2"},
			NsName: empty, NsType: empty, NsClass: empty, NsTTL: emptyTTL, NsData: empty,
			Size: size(m1), DurationUs: 1500, BatchID: b.ID,
		},
		{
			Time: time.Date(2024, 5, 1, 8, 30, 15, 7_000_000, time.UTC), Sensor: "sensor-1", Server: "dns://.:53", Transport: "tcp",
			Client: "2001:db8::53", Qname: "nx.example.org.", Qtype: "AAAA", Qclass: "IN", Rcode: "NXDOMAIN",
			Flags:  0x8000 | 0x0100 | 0x0080 | 3,
			AnName: empty, AnType: empty, AnClass: empty, AnTTL: emptyTTL, AnData: empty,
			NsName: []string{"example.org."}, NsType: []string{"SOA"}, NsClass: []string{"IN"}, NsTTL: []uint32{3600},
			NsData: []string{"ns1.example.org. hostmaster.example.org. 2024050101 7200 3600 1209600 300"},
			Size:   size(m2), DurationUs: math.MaxUint32, BatchID: b.ID,
		},
		{
			Time: time.Date(2024, 5, 1, 8, 30, 15, 999_000_000, time.UTC), Sensor: "sensor-1", Server: "dns://.:53", Transport: "tls",
			Client: "::", Qname: "alias.example.org.", Qtype: "MX", Qclass: "IN", Rcode: "NOERROR",
			Flags:  0x8000 | 0x0100 | 0x0080,
			AnName: []string{"alias.example.org.", "target.example.org."}, AnType: []string{"CNAME", "MX"}, AnClass: []string{"IN", "IN"},
			AnTTL: []uint32{60, 120}, AnData: []string{"target.example.org.", "10 mail.example.org."},
			NsName: empty, NsType: empty, NsClass: empty, NsTTL: emptyTTL, NsData: empty,
			Size: 4242, DurationUs: 0, BatchID: b.ID,
		},
	}
	got := chResponses(t, db)
	if len(got) != len(want) {
		t.Fatalf("%d rows in responses, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("row %d:\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
	// The partition is the UTC day.
	if n := chCount(t, "SELECT count() FROM `"+db+"`.responses WHERE toDate(time) = toDate('2024-04-30')"); n != 1 {
		t.Errorf("%d rows on 2024-04-30 (UTC), want 1", n)
	}

	wantHist := []chHistoryRow{
		{RRName: "alias.example.org.", RRType: "CNAME", Data: "target.example.org.", First: chHistTime(f, t3), Last: chHistTime(f, t3), Count: 1},
		{RRName: "target.example.org.", RRType: "MX", Data: "10 mail.example.org.", First: chHistTime(f, t3), Last: chHistTime(f, t3), Count: 1},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.1", First: chHistTime(f, t1), Last: chHistTime(f, t1), Count: 1},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.2", First: chHistTime(f, t1), Last: chHistTime(f, t1), Count: 1},
	}
	chCompareHistory(t, "history", chHistory(t, db), wantHist)
}

// TestClickHouseHistoryAcrossBatches writes the same answers in several batches and checks
// that history aggregates them: first and last seen, and how often.
func TestClickHouseHistoryAcrossBatches(t *testing.T) {
	s, db := chPreparedSink(t)
	f := chFlavor(t)
	base := time.Date(2024, 6, 10, 12, 0, 0, 250_000_000, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	www := func(when time.Time) record.Capture {
		return chCapture(t, chMsg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 300 IN A 192.0.2.1"), when, "192.0.2.200", "udp")
	}
	mail := func(when time.Time) record.Capture {
		return chCapture(t, chMsg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 300 IN MX 10 mail.example.org."), when, "192.0.2.200", "udp")
	}

	batches := [][]record.Capture{
		{www(at(0)), www(at(1500 * time.Millisecond)), mail(at(time.Second))}, // the batch is not in time order
		{www(at(time.Hour))},
		{mail(at(2 * time.Hour)), www(at(24*time.Hour + 10*time.Millisecond))}, // the next day
	}
	for _, cs := range batches {
		chWrite(t, s, chBatch(t, cs...))
	}
	want := []chHistoryRow{
		{RRName: "example.org.", RRType: "MX", Data: "10 mail.example.org.", First: chHistTime(f, at(time.Second)), Last: chHistTime(f, at(2*time.Hour)), Count: 2},
		{RRName: "www.example.org.", RRType: "A", Data: "192.0.2.1", First: chHistTime(f, at(0)), Last: chHistTime(f, at(24*time.Hour+10*time.Millisecond)), Count: 4},
	}
	chCompareHistory(t, "history", chHistory(t, db), want)
	if n := chCount(t, "SELECT count() FROM `"+db+"`.responses"); n != 6 {
		t.Errorf("%d responses, want 6", n)
	}
}

// TestClickHouseUncertain covers a write whose outcome was unknown: the retry must insert
// exactly the rows that did not land.
func TestClickHouseUncertain(t *testing.T) {
	day1 := time.Date(2024, 7, 1, 23, 59, 59, 900_000_000, time.UTC)
	day2 := time.Date(2024, 7, 2, 0, 0, 0, 100_000_000, time.UTC)
	resp := func(name string, when time.Time) record.Capture {
		return chCapture(t, chMsg(t, name, dns.TypeA, 0, false, name+" 60 IN A 192.0.2.3"), when, "192.0.2.1", "udp")
	}
	tests := []struct {
		name string
		// landed is the part of the batch already in ClickHouse when the uncertain retry
		// runs; nil when nothing landed.
		landed func(b *record.Batch) *record.Batch
		rows   []record.Capture
	}{
		{
			name:   "landed",
			landed: func(b *record.Batch) *record.Batch { return b },
			rows:   []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day1), resp("c.example.org.", day1)},
		},
		{
			name: "never landed",
			rows: []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day1.Add(-time.Hour))},
		},
		{
			// One part per partition: the day-1 part landed, the day-2 part did not.
			name: "one of two days landed",
			landed: func(b *record.Batch) *record.Batch {
				return b.Subset(func(i int) bool { return b.Time[i].Day() == 1 })
			},
			rows: []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day2), resp("c.example.org.", day1), resp("d.example.org.", day2)},
		},
		{
			name: "the other of two days landed",
			landed: func(b *record.Batch) *record.Batch {
				return b.Subset(func(i int) bool { return b.Time[i].Day() == 2 })
			},
			rows: []record.Capture{resp("a.example.org.", day1), resp("b.example.org.", day2), resp("c.example.org.", day1), resp("d.example.org.", day2)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, db := chPreparedSink(t)
			b := chBatch(t, tc.rows...)
			if tc.landed != nil {
				part := tc.landed(b)
				if part.ID != b.ID {
					t.Fatalf("subset changed the batch id")
				}
				chWrite(t, s, part)
				if part.Uncertain {
					t.Fatal("a successful write left the batch uncertain")
				}
			}
			b.Uncertain = true
			chWrite(t, s, b)

			got := chResponses(t, db)
			var names []string
			for _, r := range got {
				names = append(names, r.Qname+" "+r.Time.Format(time.DateOnly))
			}
			var want []string
			for _, i := range chSortedByTime(b) {
				want = append(want, b.QName[i]+" "+b.Time[i].Format(time.DateOnly))
			}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("responses after the uncertain retry:\n got  %q\n want %q (each row exactly once)", names, want)
			}
			// The view saw each row once too.
			if n := chCount(t, "SELECT sum(count) FROM `"+db+"`.history"); n != uint64(b.Len()) {
				t.Errorf("history counts %d answers, want %d", n, b.Len())
			}
		})
	}
}

// chSortedByTime returns the row indexes of b in the order chResponses reads them.
func chSortedByTime(b *record.Batch) []int {
	idx := make([]int, b.Len())
	for i := range idx {
		idx[i] = i
	}
	less := func(i, j int) bool {
		ti, tj := b.Time[i].Truncate(time.Millisecond), b.Time[j].Truncate(time.Millisecond)
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return b.QName[i] < b.QName[j]
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// TestClickHouseOddNames stores names and record data that need escaping and checks that
// they come back byte for byte as the Go side rendered them.
func TestClickHouseOddNames(t *testing.T) {
	s, db := chPreparedSink(t)
	at := time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)

	// A name of exactly 255 octets on the wire: 63+63+63+61 label bytes, 4 length bytes
	// and the root. The first label is all 0xff, the third mixes every awkward byte. odd
	// gives each of those bytes with the form the stored name must have.
	odd := []struct {
		b    byte
		text string
	}{
		{0, `\000`}, {0xff, `\255`}, {'"', `\"`}, {'\\', `\\`}, {'.', `\.`}, {';', `\;`}, {'(', `\(`},
		{')', `\)`}, {' ', `\ `}, {'@', `\@`}, {'\'', `\'`}, {'\t', `\009`}, {0x7f, `\127`}, {'Q', `q`},
	}
	label3 := make([]byte, 63)
	var label3Text strings.Builder
	for i := range label3 {
		label3[i] = odd[i%len(odd)].b
		label3Text.WriteString(odd[i%len(odd)].text)
	}
	long := chLabel(bytesOf(0xff, 63)) + "." + strings.Repeat("B", 63) + "." + chLabel(label3) + "." + strings.Repeat("d", 61) + "."
	if n := chWireLen(t, long); n != 255 {
		t.Fatalf("long name is %d octets on the wire, want 255", n)
	}
	// miekg/dns packs longer names but refuses to unpack them: one more label must fail to
	// decode, or the test is not at the limit.
	tooLong := chCapture(t, chMsg(t, "x."+long, dns.TypeA, 0, false), time.Now(), "", "udp")
	if err := new(record.Batch).Add(&tooLong, new(record.Decoder), "sensor-1"); !errors.Is(err, dns.ErrLongDomain) {
		t.Fatalf("decoding a 257-octet name: %v, want %v", err, dns.ErrLongDomain)
	}

	txt := &dns.TXT{
		Hdr: dns.RR_Header{Name: "txt.example.org.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		// In miekg/dns a backslash in Txt starts an escape: `\"` is a quote, `\\` a backslash.
		Txt: []string{`say \"hi\"`, `back\\slash`, "caf\xc3\xa9 \xff", `\000\255`, ""},
	}

	// About 60 KB of TXT: 60 records of four 250-byte strings of random bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	big := chMsg(t, "big.example.org.", dns.TypeTXT, 0, false)
	for i := 0; i < 60; i++ {
		rr := &dns.TXT{Hdr: dns.RR_Header{Name: "big.example.org.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}}
		for j := 0; j < 4; j++ {
			b := make([]byte, 250)
			for k := range b {
				b[k] = byte(rng.UintN(256))
			}
			rr.Txt = append(rr.Txt, chLabel(b))
		}
		big.Answer = append(big.Answer, rr)
	}

	escaped := chMsg(t, `A\.B.Example.org.`, dns.TypeA, 0, false, `A\.B.Example.org. 60 IN A 192.0.2.4`)
	binary := chMsg(t, `\000\255\"Q\\x\;.example.org.`, dns.TypeCNAME, 0, false,
		`\000\255\"Q\\x\;.example.org. 60 IN CNAME \(t\).Example.org.`)
	longMsg := chMsg(t, long, dns.TypeA, 0, false)
	longMsg.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: long, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 5)}}
	txtMsg := chMsg(t, "txt.example.org.", dns.TypeTXT, 0, false)
	txtMsg.Answer = []dns.RR{txt}

	cs := []record.Capture{
		chCapture(t, escaped, at, "192.0.2.1", "udp"),
		chCapture(t, binary, at.Add(time.Millisecond), "192.0.2.1", "udp"),
		chCapture(t, longMsg, at.Add(2*time.Millisecond), "192.0.2.1", "udp"),
		chCapture(t, txtMsg, at.Add(3*time.Millisecond), "192.0.2.1", "udp"),
		chCapture(t, big, at.Add(4*time.Millisecond), "192.0.2.1", "tcp"),
	}
	if n := len(cs[4].Wire); n < 55_000 || n > dns.MaxMsgSize {
		t.Fatalf("big TXT message is %d bytes, want about 60 KB", n)
	}
	b := chBatch(t, cs...)

	// The Go side: what the stored forms must be.
	lowerLong := strings.Repeat(`\255`, 63) + "." + strings.Repeat("b", 63) + "." + label3Text.String() + "." + strings.Repeat("d", 61) + "."
	wantGo := []struct{ qname, name0, data0 string }{
		{`a\.b.example.org.`, `a\.b.example.org.`, "192.0.2.4"},
		{`\000\255\"q\\x\;.example.org.`, `\000\255\"q\\x\;.example.org.`, `\(t\).example.org.`},
		{lowerLong, lowerLong, "192.0.2.5"},
		{"txt.example.org.", "txt.example.org.", `"say \"hi\"" "back\\slash" "caf\195\169 \255" "\000\255" ""`},
	}
	for i, w := range wantGo {
		if b.QName[i] != w.qname || b.Answer.Name[i][0] != w.name0 || b.Answer.Data[i][0] != w.data0 {
			t.Errorf("row %d decoded as qname %q, answer %q %q; want %q, %q %q",
				i, b.QName[i], b.Answer.Name[i][0], b.Answer.Data[i][0], w.qname, w.name0, w.data0)
		}
	}
	if l := len(b.QName[2]); l <= 255 {
		t.Errorf("presentation form of the 255-octet name is only %d bytes; its escapes were lost", l)
	}

	chWrite(t, s, b)
	got := chResponses(t, db)
	if len(got) != b.Len() {
		t.Fatalf("%d rows, want %d", len(got), b.Len())
	}
	for i, r := range got {
		if r.Qname != b.QName[i] {
			t.Errorf("row %d: qname %q, want %q", i, r.Qname, b.QName[i])
		}
		if !reflect.DeepEqual(r.AnName, b.Answer.Name[i]) {
			t.Errorf("row %d: answer.name %q, want %q", i, r.AnName, b.Answer.Name[i])
		}
		if !reflect.DeepEqual(r.AnData, b.Answer.Data[i]) {
			t.Errorf("row %d (%s): answer.data differs from the Go side (%d vs %d records)", i, b.QName[i], len(r.AnData), len(b.Answer.Data[i]))
		}
	}
	var total int
	for _, d := range got[4].AnData {
		total += len(d)
	}
	if total < 60_000 {
		t.Errorf("the big TXT set is stored in %d bytes of rdata, want more than 60000", total)
	}

	// The names are found by exact match through the materialized view as well.
	for _, name := range []string{`a\.b.example.org.`, `\000\255\"q\\x\;.example.org.`, lowerLong, "txt.example.org."} {
		if n := chCount(t, "SELECT toUInt64(count()) FROM `"+db+"`.history WHERE rrname = ?", name); n != 1 {
			t.Errorf("history rows for %q: %d, want 1", name, n)
		}
	}
	if n := chCount(t, "SELECT toUInt64(count()) FROM `"+db+"`.history WHERE rrname = 'big.example.org.'"); n != 60 {
		t.Errorf("history rows for big.example.org.: %d, want 60", n)
	}
}

func bytesOf(c byte, n int) []byte { return []byte(strings.Repeat(string([]byte{c}), n)) }

// chLabel is the presentation form of raw label (or TXT string) bytes, every byte as \DDD,
// so it means exactly those bytes to miekg/dns whatever they are.
func chLabel(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%03d", c)
	}
	return s.String()
}

func chWireLen(t *testing.T, name string) int {
	t.Helper()
	buf := make([]byte, 512)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("packing %q: %v", name, err)
	}
	return n
}

// chMetrics is a snapshot of the writer's metrics.
type chMetrics struct {
	captured, written, errors float64
	dropped                   map[string]float64
	flushes, batchRows        float64 // sample count of flush_duration_seconds, sample sum of batch_size
}

func chSnapshot(t *testing.T) chMetrics {
	t.Helper()
	m := chMetrics{
		captured: testutil.ToFloat64(capturedCount),
		written:  testutil.ToFloat64(writtenCount),
		errors:   testutil.ToFloat64(errorCount.WithLabelValues("insert")),
		dropped:  map[string]float64{},
	}
	for _, r := range []string{dropQueueFull, dropRejected, dropShutdown, dropEncode} {
		m.dropped[r] = testutil.ToFloat64(droppedCount.WithLabelValues(r))
	}
	m.flushes = float64(chHistogram(t, flushDuration).GetSampleCount())
	m.batchRows = chHistogram(t, batchSize).GetSampleSum()
	return m
}

func chHistogram(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

func (m chMetrics) minus(o chMetrics) chMetrics {
	d := chMetrics{captured: m.captured - o.captured, written: m.written - o.written, errors: m.errors - o.errors,
		flushes: m.flushes - o.flushes, batchRows: m.batchRows - o.batchRows, dropped: map[string]float64{}}
	for r, v := range m.dropped {
		if v != o.dropped[r] {
			d.dropped[r] = v - o.dropped[r]
		}
	}
	return d
}

// chCaptures returns n responses for distinct names, a millisecond apart.
func chCaptures(t *testing.T, prefix string, n int) ([]record.Capture, []string) {
	t.Helper()
	var cs []record.Capture
	var names []string
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%03d.example.org.", prefix, i)
		m := chMsg(t, name, dns.TypeA, 0, false, name+" 60 IN A 192.0.2.6")
		cs = append(cs, chCapture(t, m, at.Add(time.Duration(i)*time.Millisecond), "192.0.2.1", "udp"))
		names = append(names, name)
	}
	return cs, names
}

func chQnames(t *testing.T, db string) []string {
	t.Helper()
	var names []string
	for _, r := range chResponses(t, db) {
		names = append(names, r.Qname)
	}
	return names
}

// TestWriterEndToEnd runs the writer with a real sink: everything enqueued before stop is in
// ClickHouse after it, and the metrics agree with what was written.
func TestWriterEndToEnd(t *testing.T) {
	db := chTestDB(t)
	cfg := chConfig(t, db)
	cfg.batch, cfg.flush, cfg.queue = 4, 20*time.Millisecond, 100
	w := newWriter(cfg, newSink(cfg))

	before := chSnapshot(t)
	if err := w.start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 1 {
		t.Errorf("clickhouse_up after a successful start = %v, want 1", up)
	}
	cs, names := chCaptures(t, "e2e", 10)
	for i, c := range cs {
		w.enqueue(c)
		if i == 4 {
			time.Sleep(3 * cfg.flush) // let one flush happen by time, not by size
		}
	}
	if err := w.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d := chSnapshot(t).minus(before)

	if got := chQnames(t, db); !reflect.DeepEqual(got, names) {
		t.Errorf("rows after stop:\n got  %q\n want %q", got, names)
	}
	n := float64(len(cs))
	if d.captured != n || d.written != n || d.batchRows != n {
		t.Errorf("captured %v, written %v, batch_size sum %v; want %v each", d.captured, d.written, d.batchRows, n)
	}
	if d.flushes < 3 || d.flushes > n {
		t.Errorf("%v flushes for %v rows in batches of %d", d.flushes, n, cfg.batch)
	}
	if d.errors != 0 || len(d.dropped) != 0 {
		t.Errorf("errors %v, dropped %v; want none", d.errors, d.dropped)
	}
	if q := testutil.ToFloat64(queueLength); q != 0 {
		t.Errorf("queue_length after stop = %v, want 0", q)
	}
}

// chProxy forwards TCP connections from a port that is closed until open is called.
type chProxy struct {
	addr    string
	backend string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newChProxy(t *testing.T, backend string) *chProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chProxy{addr: ln.Addr().String(), backend: backend}
	ln.Close() // closed: connections are refused until open
	t.Cleanup(p.close)
	return p
}

func (p *chProxy) open(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopening %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *chProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
}

// TestWriterClickHouseDownAtStart starts the writer while ClickHouse is unreachable: start
// must not fail (DNS keeps answering) and the rows arrive once the server can be reached.
func TestWriterClickHouseDownAtStart(t *testing.T) {
	db := chTestDB(t)
	proxy := newChProxy(t, testCH.TCPAddr)
	cfg := chConfig(t, db)
	dsn := strings.Replace(cfg.dsn, testCH.TCPAddr, proxy.addr, 1)
	if dsn == cfg.dsn {
		t.Fatalf("cannot point %s at the proxy", cfg.dsn)
	}
	var err error
	if cfg.options, cfg.database, err = parseDSN(dsn); err != nil {
		t.Fatal(err)
	}
	cfg.dsn = dsn
	cfg.options.DialTimeout = time.Second
	cfg.batch, cfg.flush, cfg.queue = 5, 20*time.Millisecond, 100
	w := newWriter(cfg, newSink(cfg))
	t.Cleanup(func() { w.stop() })

	before := chSnapshot(t)
	start := time.Now()
	if err := w.start(); err != nil {
		t.Fatalf("start with ClickHouse down: %v (DNS would not start)", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("start took %v with ClickHouse down", took)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 0 {
		t.Errorf("clickhouse_up = %v while ClickHouse is down, want 0", up)
	}
	cs, names := chCaptures(t, "down", 5)
	for _, c := range cs {
		w.enqueue(c) // must not block
	}
	chWaitFor(t, "an insert to fail", func() bool { return chSnapshot(t).minus(before).errors >= 1 })
	if d := chSnapshot(t).minus(before); d.written != 0 {
		t.Fatalf("written %v while ClickHouse is down", d.written)
	}

	proxy.open(t)
	chWaitFor(t, "the rows to arrive", func() bool {
		return chCount(t, "SELECT count() FROM system.tables WHERE database = ? AND name = 'responses'", db) == 1 &&
			chCount(t, "SELECT count() FROM `"+db+"`.responses") == uint64(len(cs))
	})
	if err := w.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := chQnames(t, db); !reflect.DeepEqual(got, names) {
		t.Errorf("rows:\n got  %q\n want %q", got, names)
	}
	d := chSnapshot(t).minus(before)
	if d.captured != 5 || d.written != 5 || len(d.dropped) != 0 {
		t.Errorf("captured %v, written %v, dropped %v; want 5, 5, none", d.captured, d.written, d.dropped)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 1 {
		t.Errorf("clickhouse_up = %v after the rows were written, want 1", up)
	}
}

// TestClickHouseClosedPort checks that an unreachable server is a retryable error, not a
// fatal one and not rejected rows.
func TestClickHouseClosedPort(t *testing.T) {
	proxy := newChProxy(t, testCH.TCPAddr)
	cfg := chConfig(t, chTestDB(t))
	var err error
	if cfg.options, _, err = parseDSN("clickhouse://" + proxy.addr + "/" + cfg.database); err != nil {
		t.Fatal(err)
	}
	s := chSink(t, cfg)
	err = s.Prepare(chCtx(t))
	if err == nil || errors.Is(err, schema.ErrFatal) || errors.Is(err, chsink.ErrRejected) {
		t.Errorf("prepare against a closed port: %v; want a plain (retryable) error", err)
	}
}

func chWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClickHouseSchemaDropped drops the database under a running sink: the next write fails
// and makes the sink check the schema again, so the write after it recreates the schema
// (schema auto) and succeeds.
func TestClickHouseSchemaDropped(t *testing.T) {
	s, db := chPreparedSink(t)
	cs, _ := chCaptures(t, "dropped", 2)
	chWrite(t, s, chBatch(t, cs[0]))
	chExec(t, "DROP DATABASE `"+db+"`")

	err := s.Write(chCtx(t), chBatch(t, cs[1]))
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || (ex.Code != schema.CodeUnknownDatabase && ex.Code != schema.CodeUnknownTable) {
		t.Fatalf("write after DROP DATABASE: %v; want ClickHouse error %d or %d", err, schema.CodeUnknownDatabase, schema.CodeUnknownTable)
	}
	if errors.Is(err, schema.ErrFatal) || errors.Is(err, chsink.ErrRejected) {
		t.Errorf("write after DROP DATABASE: %v must stay retryable", err)
	}
	chWrite(t, s, chBatch(t, cs[1]))
	if got := chQnames(t, db); !reflect.DeepEqual(got, []string{"dropped001.example.org."}) {
		t.Errorf("rows after the schema was recreated: %q", got)
	}
	if n := chCount(t, "SELECT toUInt64(max(version)) FROM `"+db+"`.schema_version"); n != schema.Version {
		t.Errorf("recreated schema is version %d, want %d", n, schema.Version)
	}
}
