package chsink_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
)

// Schema tests through the real sink and schema.Ensure.

// schemaConn opens a connection the way the sink does (no default database).
func schemaConn(t *testing.T, opts chsink.Options) driver.Conn {
	t.Helper()
	ch := *opts.ClickHouse
	conn, err := clickhouse.Open(&ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// schemaFor is the schema the sink builds for opts on testCH.
func schemaFor(t *testing.T, opts chsink.Options) schema.Schema {
	t.Helper()
	return schema.Schema{Flavor: flavor(t), DB: opts.Database, Retention: opts.Retention}
}

// createVersion1 builds the schema as a passivedns that knew only version 1 did: the
// statements schema.Ensure runs for migration 1 and its version row.
func createVersion1(t *testing.T, conn driver.Conn, s schema.Schema) {
	t.Helper()
	ctx := chtest.Ctx(t)
	m := s.Migrations()[0]
	if m.Version != 1 {
		t.Fatalf("first migration is version %d", m.Version)
	}
	for _, q := range append([]string{s.CreateDatabase(), s.CreateVersionTable()}, m.Statements...) {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.Exec(ctx, s.InsertVersion(), uint32(1), "test"); err != nil {
		t.Fatal(err)
	}
}

// tables lists the tables of db as "name engine".
func tables(t *testing.T, db string) []string {
	t.Helper()
	return testCH.Lines(t, "SELECT name, engine FROM system.tables WHERE database = '"+db+"' ORDER BY name")
}

// versions lists the schema_version rows of db as "version by".
func versions(t *testing.T, db string) []string {
	t.Helper()
	return testCH.Lines(t, "SELECT version, by FROM `"+db+"`.schema_version ORDER BY version, by")
}

var allTables = []string{
	"history View",
	"history_by_ip AggregatingMergeTree",
	"history_by_ip_mv MaterializedView",
	"history_by_name AggregatingMergeTree",
	"history_by_name_mv MaterializedView",
	"history_by_rdata AggregatingMergeTree",
	"history_by_rdata_mv MaterializedView",
	"history_detail_by_ip AggregatingMergeTree",
	"history_detail_by_ip_mv MaterializedView",
	"history_detail_by_name AggregatingMergeTree",
	"history_detail_by_name_mv MaterializedView",
	"history_detail_by_rdata AggregatingMergeTree",
	"history_detail_by_rdata_mv MaterializedView",
	"history_rrset AggregatingMergeTree",
	"history_rrset_mv MaterializedView",
	"responses MergeTree",
	"schema_version Log",
}

// TestSchemaCreate creates the schema in a database that does not exist yet.
func TestSchemaCreate(t *testing.T) {
	db := testCH.TestDB(t)
	s := newSink(t, options(t, db))
	if err := s.Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if got := tables(t, db); !reflect.DeepEqual(got, allTables) {
		t.Errorf("tables:\n got  %q\n want %q", got, allTables)
	}
	if got, want := versions(t, db), []string{"1 passivedns", "2 passivedns", "3 passivedns", "4 passivedns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema_version rows %q, want %q", got, want)
	}
	if n := testCH.Count(t, "SELECT toUInt64(max(version)) FROM `"+db+"`.schema_version"); n != schema.Version {
		t.Errorf("max(version) = %d, want %d", n, schema.Version)
	}

	// The insert columns exist, in order, with the flavor's types.
	out, err := testCH.Query("SELECT name, type FROM system.columns WHERE database = '" + db + "' AND table = 'responses'")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		name, typ, _ := strings.Cut(line, "\t")
		types[name] = strings.ReplaceAll(typ, `\'`, `'`)
		names = append(names, name)
	}
	if got, want := names, s.Schema().ResponseColumns(); !reflect.DeepEqual(got, want) {
		t.Errorf("responses columns:\n got  %q\n want %q", got, want)
	}
	want := map[string]string{
		"time": "DateTime('UTC')", "time_ms": "UInt16", "client": "FixedString(16)", "qtype": "String",
		"answer.type": "Array(String)", "answer.ttl": "Array(UInt32)", "batch_id": "UInt64",
	}
	if s.Schema().Flavor.Modern {
		want = map[string]string{
			"time": "DateTime64(3, 'UTC')", "client": "IPv6", "qtype": "LowCardinality(String)",
			"answer.type": "Array(LowCardinality(String))", "answer.ttl": "Array(UInt32)", "batch_id": "UInt64",
		}
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("responses.%s is %q, want %q", col, types[col], typ)
		}
	}
}

// TestSchemaIdempotent runs schema.Ensure again on a complete schema with data in it:
// nothing may change, in particular no backfill may run twice.
func TestSchemaIdempotent(t *testing.T) {
	s, db := preparedSink(t)
	opts := options(t, db)
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	mustWrite(t, s, recordtest.BatchOf(t,
		recordtest.CaptureOf(t, recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"), at, "192.0.2.100", "udp"),
		recordtest.CaptureOf(t, recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 60 IN MX 10 mail.example.org."), at, "192.0.2.100", "udp"),
	))
	counts := func() []uint64 {
		var n []uint64
		for _, table := range []string{"responses", "history_by_name", "history_by_ip", "history_by_rdata", "history_rrset", "schema_version"} {
			n = append(n, testCH.Count(t, "SELECT count() FROM `"+db+"`."+table))
		}
		n = append(n, testCH.Count(t, "SELECT toUInt64(sum(count)) FROM `"+db+"`.history"))
		return n
	}
	before := counts()
	if want := []uint64{2, 2, 1, 1, 2, 4, 2}; !reflect.DeepEqual(before, want) {
		t.Fatalf("rows in responses, history_by_name, _by_ip, _by_rdata, history_rrset, schema_version, history answers: %v, want %v", before, want)
	}

	conn := schemaConn(t, opts)
	for i := 0; i < 2; i++ {
		if err := schema.Ensure(chtest.Ctx(t), conn, s.Schema(), true, testLog); err != nil {
			t.Fatalf("schema.Ensure run %d: %v", i+2, err)
		}
	}
	again := newSink(t, opts) // a restart of CoreDNS
	if err := again.Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("prepare on an existing schema: %v", err)
	}
	if got := tables(t, db); !reflect.DeepEqual(got, allTables) {
		t.Errorf("tables:\n got  %q\n want %q", got, allTables)
	}
	if got := counts(); !reflect.DeepEqual(got, before) {
		t.Errorf("row counts changed from %v to %v", before, got)
	}
	if n := testCH.Count(t, "SELECT toUInt64(max(version)) FROM `"+db+"`.schema_version"); n != schema.Version {
		t.Errorf("max(version) = %d, want %d", n, schema.Version)
	}
}

// TestSchemaUpgrade records responses with a version 1 schema, upgrades to version 2 and
// checks that the new tables were backfilled from them exactly once, and that the new
// materialized views take over for what is written afterwards.
func TestSchemaUpgrade(t *testing.T) {
	db := testCH.TestDB(t)
	opts := options(t, db)
	sch := schemaFor(t, opts)
	conn := schemaConn(t, opts)
	createVersion1(t, conn, sch)
	if got, want := tables(t, db), []string{"history View", "history_by_name AggregatingMergeTree",
		"history_by_name_mv MaterializedView", "responses MergeTree", "schema_version Log"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1 tables:\n got  %q\n want %q", got, want)
	}

	// A sink that knows only this schema: ready, so write does not upgrade it.
	v1o := opts
	v1o.Fixed = &sch
	v1 := newSink(t, v1o)
	f := sch.Flavor
	t1 := time.Date(2024, 2, 1, 8, 0, 0, 100_000_000, time.UTC)
	t2 := t1.Add(time.Hour)
	t3 := t1.Add(24 * time.Hour)
	resp := func(m *dns.Msg, at time.Time) record.Capture {
		return recordtest.CaptureOf(t, m, at, "192.0.2.100", "udp")
	}
	mustWrite(t, v1, recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1", "www.example.org. 60 IN A 192.0.2.2"), t1),
		resp(recordtest.Msg(t, "v6.example.org.", dns.TypeAAAA, 0, false, "v6.example.org. 60 IN AAAA 2001:db8::1"), t1),
		resp(recordtest.Msg(t, "alias.example.org.", dns.TypeA, 0, false,
			"alias.example.org. 60 IN CNAME Target.example.org.", "target.example.org. 60 IN A 192.0.2.9"), t2),
	))
	mustWrite(t, v1, recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"), t2),
		resp(recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 60 IN MX 10 mail.example.org.", "example.org. 60 IN MX 20 Mail2.example.org."), t3),
		resp(recordtest.Msg(t, "_sip._tcp.example.org.", dns.TypeSRV, 0, false, "_sip._tcp.example.org. 60 IN SRV 10 5 5060 sip.example.org."), t3),
		resp(recordtest.Msg(t, "example.org.", dns.TypeNS, 0, false, "example.org. 60 IN NS ns1.example.org."), t3),
		resp(recordtest.Msg(t, "example.org.", dns.TypeTXT, 0, false, `example.org. 60 IN TXT "v=spf1 -all"`), t3),
	))
	historyBefore := history(t, db)
	if len(historyBefore) != 10 {
		t.Fatalf("history before the upgrade has %d rows, want 10: %v", len(historyBefore), historyBefore)
	}

	upgraded := newSink(t, opts)
	if err := upgraded.Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	if got := tables(t, db); !reflect.DeepEqual(got, allTables) {
		t.Errorf("tables after the upgrade:\n got  %q\n want %q", got, allTables)
	}
	if got, want := versions(t, db), []string{"1 test", "2 passivedns", "3 passivedns", "4 passivedns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema_version rows %q, want %q", got, want)
	}
	h := func(key, name, typ, data string, first, last time.Time, n uint64) historyRow {
		return historyRow{key, name, typ, data, histTime(f, first), histTime(f, last), n}
	}
	wantIP := []historyRow{
		h("::ffff:192.0.2.9", "target.example.org.", "A", "", t2, t2, 1),
		h("2001:db8::1", "v6.example.org.", "AAAA", "", t1, t1, 1),
		h("::ffff:192.0.2.1", "www.example.org.", "A", "", t1, t2, 2),
		h("::ffff:192.0.2.2", "www.example.org.", "A", "", t1, t1, 1),
	}
	compareHistory(t, "history_by_ip after the backfill", historyByIP(t, db, f), wantIP)
	wantRdata := []historyRow{
		h("mail.example.org.", "example.org.", "MX", "10 mail.example.org.", t3, t3, 1),
		h("mail2.example.org.", "example.org.", "MX", "20 mail2.example.org.", t3, t3, 1),
		h("ns1.example.org.", "example.org.", "NS", "ns1.example.org.", t3, t3, 1),
		h("sip.example.org.", "_sip._tcp.example.org.", "SRV", "10 5 5060 sip.example.org.", t3, t3, 1),
		h("target.example.org.", "alias.example.org.", "CNAME", "target.example.org.", t2, t2, 1),
	}
	compareHistory(t, "history_by_rdata after the backfill", historyByRdata(t, db), wantRdata)
	compareHistory(t, "history after the upgrade", history(t, db), historyBefore)

	// After the upgrade the views feed the new tables; the backfill does not run again.
	t4 := t3.Add(time.Hour)
	mustWrite(t, upgraded, recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"), t4),
		resp(recordtest.Msg(t, "alias.example.org.", dns.TypeCNAME, 0, false, "alias.example.org. 60 IN CNAME target.example.org."), t4),
	))
	if err := newSink(t, opts).Prepare(chtest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	wantIP[2] = h("::ffff:192.0.2.1", "www.example.org.", "A", "", t1, t4, 3)
	compareHistory(t, "history_by_ip after a write", historyByIP(t, db, f), wantIP)
	wantRdata[4] = h("target.example.org.", "alias.example.org.", "CNAME", "target.example.org.", t2, t4, 2)
	compareHistory(t, "history_by_rdata after a write", historyByRdata(t, db), wantRdata)
}

// TestSchemaNewer refuses a database whose schema is newer than this build, with schema.ErrFatal
// (CoreDNS does not start), whatever the schema setting.
func TestSchemaNewer(t *testing.T) {
	for _, auto := range []bool{true, false} {
		t.Run(map[bool]string{true: "auto", false: "off"}[auto], func(t *testing.T) {
			_, db := preparedSink(t)
			testCH.Exec(t, "INSERT INTO `"+db+"`.schema_version (version, applied, by) VALUES (99, now(), 'future')")
			opts := options(t, db)
			opts.AutoSchema = auto
			err := newSink(t, opts).Prepare(chtest.Ctx(t))
			if !errors.Is(err, schema.ErrFatal) || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "99") {
				t.Errorf("prepare: %v; want schema.ErrFatal saying version 99 is newer", err)
			}
			if got, want := versions(t, db), []string{"1 passivedns", "2 passivedns", "3 passivedns", "4 passivedns", "99 future"}; !reflect.DeepEqual(got, want) {
				t.Errorf("schema_version rows %q, want %q", got, want)
			}
		})
	}
}

// TestSchemaOff checks 'schema off': it only checks, creates nothing, and says what to do.
func TestSchemaOff(t *testing.T) {
	tests := []struct {
		name   string
		create func(t *testing.T, opts chsink.Options)
		want   string // in the error; empty for success
	}{
		{"no database", func(*testing.T, chsink.Options) {}, "no passivedns schema in database"},
		{"empty database", func(t *testing.T, opts chsink.Options) { testCH.Exec(t, "CREATE DATABASE `"+opts.Database+"`") }, "no passivedns schema in database"},
		{"version 1", func(t *testing.T, opts chsink.Options) {
			createVersion1(t, schemaConn(t, opts), schemaFor(t, opts))
		}, "has schema version 1, this passivedns needs 4; use 'schema auto'"},
		{"current", func(t *testing.T, opts chsink.Options) {
			if err := newSink(t, opts).Prepare(chtest.Ctx(t)); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := testCH.TestDB(t)
			opts := options(t, db)
			tc.create(t, opts)
			var before []string
			if testCH.Count(t, "SELECT count() FROM system.databases WHERE name = ?", db) == 1 {
				before = tables(t, db)
			}

			opts.AutoSchema = false
			err := newSink(t, opts).Prepare(chtest.Ctx(t))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("prepare: %v", err)
			case tc.want != "" && (!errors.Is(err, schema.ErrFatal) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), db)):
				t.Errorf("prepare: %v; want schema.ErrFatal naming %s and saying %q", err, db, tc.want)
			}
			if tc.want != "" && err != nil && !strings.Contains(err.Error(), "schema auto") {
				t.Errorf("error %q does not say how to fix it ('schema auto')", err)
			}
			var after []string
			if testCH.Count(t, "SELECT count() FROM system.databases WHERE name = ?", db) == 1 {
				after = tables(t, db)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("schema off changed the tables from %q to %q", before, after)
			}
		})
	}
}

// TestSchemaRetention: on a server without TTL (18.16) retention is accepted and not
// enforced; on a modern one the TTL is set, and changed on the next start.
func TestSchemaRetention(t *testing.T) {
	db := testCH.TestDB(t)
	opts := options(t, db)
	opts.Retention = 48 * time.Hour
	if err := newSink(t, opts).Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("prepare with retention: %v", err)
	}
	opts.Retention = 72 * time.Hour
	if err := newSink(t, opts).Prepare(chtest.Ctx(t)); err != nil {
		t.Fatalf("prepare with another retention: %v", err)
	}
	out, err := testCH.Query("SHOW CREATE TABLE `" + db + "`.responses")
	if err != nil {
		t.Fatal(err)
	}
	hasTTL := strings.Contains(out, "TTL")
	if f := flavor(t); f.Modern {
		if !strings.Contains(out, "toIntervalHour(72)") {
			t.Errorf("modern server: responses has no 72 hour TTL:\n%s", out)
		}
	} else if hasTTL {
		t.Errorf("legacy server: responses has a TTL:\n%s", out)
	}
}
