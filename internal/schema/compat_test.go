package schema_test

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"

	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/chdbtest"
)

// Compatibility tests: every statement the plugin issues, run on current ClickHouse (26.x)
// through chDB. chDB is an engine, not a server: the SQL is the sink's own (the schema methods
// ensureSchema, write and unlanded use), with the clickhouse-go parameters and the native
// insert blocks replaced by literals.

// chdbMigrateTo1 is what a passivedns that knew only version 1 issued.
func chdbMigrateTo1(t *testing.T, sess *chdbtest.Session, s schema.Schema) {
	t.Helper()
	sess.MustExec(t, s.CreateDatabase())
	sess.MustExec(t, s.CreateVersionTable())
	m := s.Migrations()[0]
	for _, q := range m.Statements {
		sess.MustExec(t, q)
	}
	sess.MustExec(t, chdbtest.Bind(t, s.InsertVersion(), uint32(m.Version), "passivedns"))
}

// chdbProbe runs the unlanded probe for the first row of b's day d as the sink does.
func chdbProbe(t *testing.T, sess *chdbtest.Session, s schema.Schema, b *record.Batch, i int) string {
	t.Helper()
	return sess.MustExec(t, chdbtest.Bind(t, s.UnlandedQuery(), record.Reverse(b.Rows().QName[i]), b.Rows().Time[i].Format(time.DateOnly), b.ID))
}

// chdbBatches are the responses the compatibility tests write: before is recorded first,
// after later (past the upgrade, where there is one).
func chdbBatches(t *testing.T, base time.Time) (before, after *record.Batch) {
	t.Helper()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	resp := func(m *dns.Msg, when time.Time, client string) record.Capture {
		return recordtest.CaptureOf(t, m, when, client, "udp")
	}
	before = recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1", "www.example.org. 60 IN A 192.0.2.2"), at(123*time.Millisecond), "10.240.0.1"),
		resp(recordtest.Msg(t, "v6.example.org.", dns.TypeAAAA, 0, false, "v6.example.org. 60 IN AAAA 2001:db8::1"), at(time.Second+456*time.Millisecond), "2001:db8:ffff::53"),
		resp(recordtest.Msg(t, "alias.example.org.", dns.TypeA, 0, false,
			"alias.example.org. 60 IN CNAME target.example.org.", "target.example.org. 60 IN A 192.0.2.9"), at(24*time.Hour+7*time.Millisecond), "2001:db8::1:0:0:1"),
		resp(recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 60 IN MX 10 mail.example.org."), at(24*time.Hour+8*time.Millisecond), ""),
		resp(recordtest.Msg(t, `q\"uote\\.example.org.`, dns.TypeTXT, 0, false, `q\"uote\\.example.org. 60 IN TXT "it's \"quoted\" \\ caf\195\169"`), at(24*time.Hour+9*time.Millisecond), ""),
	)
	after = recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"), at(48*time.Hour+999*time.Millisecond), "10.240.0.1"),
		resp(recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 60 IN MX 10 mail.example.org."), at(48*time.Hour), ""),
	)
	return before, after
}

// chdbTime formats t as the flavor's history columns print it.
func chdbTime(f schema.Flavor, t time.Time) string {
	if f.Modern {
		return t.UTC().Format("2006-01-02 15:04:05.000")
	}
	return t.UTC().Format(time.DateTime)
}

// chdbCheckData checks responses, the unlanded probe and the three history tables after
// before and after were written.
func chdbCheckData(t *testing.T, sess *chdbtest.Session, s schema.Schema, base time.Time, before, after *record.Batch) {
	t.Helper()
	f := s.Flavor
	tm := func(d time.Duration) string { return chdbTime(f, base.Add(d)) }
	ip := func(col string) string {
		if f.Modern {
			return "toString(" + col + ")"
		}
		return "IPv6NumToString(" + col + ")"
	}
	ms := "time_ms"
	if f.Modern {
		ms = "toUnixTimestamp64Milli(time) % 1000"
	}

	got := sess.MustExec(t, "SELECT toString(time), "+ms+", "+ip("client")+", qname, answer.data, batch_id FROM "+s.Table("responses")+" ORDER BY time, qname")
	var want strings.Builder
	for _, b := range []*record.Batch{before, after} {
		for i := range b.Len() {
			client := "::"
			if b.Rows().Client[i].IsValid() {
				client = netip.AddrFrom16(b.Rows().Client[i].As16()).String()
			}
			fmt.Fprintf(&want, "%s\t%d\t%s\t%s\t%s\t%d\n", chdbTime(f, b.Rows().Time[i]), b.Rows().TimeMs[i], client,
				chdbTSV(b.Rows().QName[i]), chdbArrayText(b.Rows().Answer.Data[i]), b.ID)
		}
	}
	if w := chdbSortLines(want.String()); chdbSortLines(got) != w {
		t.Errorf("responses:\n got\n%s want\n%s", got, w)
	}

	// The unlanded probe finds the rows of a batch per day, and nothing for another id.
	for i, want := range map[int]string{0: "1\n", 2: "1\n"} { // the first rows of either day
		if got := chdbProbe(t, sess, s, before, i); got != want {
			t.Errorf("unlanded probe for row %d (%s): %q, want %q", i, before.Rows().Time[i].Format(time.DateOnly), got, want)
		}
	}
	other := *before
	other.ID++
	if got := chdbProbe(t, sess, s, &other, 0); got != "0\n" {
		t.Errorf("unlanded probe for another batch id: %q, want 0", got)
	}

	got = sess.MustExec(t, "SELECT * FROM "+s.Table("history")+" ORDER BY rrname, rrtype, rdata")
	wantHistory := strings.Join([]string{
		"alias.example.org.\tCNAME\ttarget.example.org.\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
		"example.org.\tMX\t10 mail.example.org.\t" + tm(24*time.Hour+8*time.Millisecond) + "\t" + tm(48*time.Hour) + "\t2",
		`q\\"uote\\\\.example.org.` + "\tTXT\t" + `"it\'s \\"quoted\\" \\\\ caf\\195\\169"` + "\t" + tm(24*time.Hour+9*time.Millisecond) + "\t" + tm(24*time.Hour+9*time.Millisecond) + "\t1",
		"target.example.org.\tA\t192.0.2.9\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
		"v6.example.org.\tAAAA\t2001:db8::1\t" + tm(time.Second+456*time.Millisecond) + "\t" + tm(time.Second+456*time.Millisecond) + "\t1",
		"www.example.org.\tA\t192.0.2.1\t" + tm(123*time.Millisecond) + "\t" + tm(48*time.Hour+999*time.Millisecond) + "\t2",
		"www.example.org.\tA\t192.0.2.2\t" + tm(123*time.Millisecond) + "\t" + tm(123*time.Millisecond) + "\t1",
	}, "\n") + "\n"
	if got != wantHistory {
		t.Errorf("SELECT * FROM history:\n got\n%s want\n%s", got, wantHistory)
	}

	got = sess.MustExec(t, "SELECT "+ip("ip")+" AS k, rrname, rrtype, minMerge(time_first), maxMerge(time_last), countMerge(count) FROM "+
		s.Table("history_by_ip")+" GROUP BY ip, rrname, rrtype ORDER BY rrname, k")
	wantIP := strings.Join([]string{
		"::ffff:192.0.2.9\ttarget.example.org.\tA\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
		"2001:db8::1\tv6.example.org.\tAAAA\t" + tm(time.Second+456*time.Millisecond) + "\t" + tm(time.Second+456*time.Millisecond) + "\t1",
		"::ffff:192.0.2.1\twww.example.org.\tA\t" + tm(123*time.Millisecond) + "\t" + tm(48*time.Hour+999*time.Millisecond) + "\t2",
		"::ffff:192.0.2.2\twww.example.org.\tA\t" + tm(123*time.Millisecond) + "\t" + tm(123*time.Millisecond) + "\t1",
	}, "\n") + "\n"
	if got != wantIP {
		t.Errorf("history_by_ip:\n got\n%s want\n%s", got, wantIP)
	}

	got = sess.MustExec(t, "SELECT target, rrname, rrtype, rdata, minMerge(time_first), maxMerge(time_last), countMerge(count) FROM "+
		s.Table("history_by_rdata")+" GROUP BY target, rrname, rrtype, rdata ORDER BY target, rrname, rdata")
	wantRdata := strings.Join([]string{
		"mail.example.org.\texample.org.\tMX\t10 mail.example.org.\t" + tm(24*time.Hour+8*time.Millisecond) + "\t" + tm(48*time.Hour) + "\t2",
		"target.example.org.\talias.example.org.\tCNAME\ttarget.example.org.\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
	}, "\n") + "\n"
	if got != wantRdata {
		t.Errorf("history_by_rdata:\n got\n%s want\n%s", got, wantRdata)
	}

	// RRsets: the two addresses of www served together are one set, the later answer
	// with one of them another.
	got = sess.MustExec(t, "SELECT rrname, rrtype, rdata, minMerge(time_first), maxMerge(time_last), countMerge(count) FROM "+
		s.Table("history_rrset")+" WHERE rrtype != 'TXT' GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata")
	wantRRset := strings.Join([]string{
		"alias.example.org.\tCNAME\t['target.example.org.']\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
		"example.org.\tMX\t['10 mail.example.org.']\t" + tm(24*time.Hour+8*time.Millisecond) + "\t" + tm(48*time.Hour) + "\t2",
		"target.example.org.\tA\t['192.0.2.9']\t" + tm(24*time.Hour+7*time.Millisecond) + "\t" + tm(24*time.Hour+7*time.Millisecond) + "\t1",
		"v6.example.org.\tAAAA\t['2001:db8::1']\t" + tm(time.Second+456*time.Millisecond) + "\t" + tm(time.Second+456*time.Millisecond) + "\t1",
		"www.example.org.\tA\t['192.0.2.1']\t" + tm(48*time.Hour+999*time.Millisecond) + "\t" + tm(48*time.Hour+999*time.Millisecond) + "\t1",
		"www.example.org.\tA\t['192.0.2.1','192.0.2.2']\t" + tm(123*time.Millisecond) + "\t" + tm(123*time.Millisecond) + "\t1",
	}, "\n") + "\n"
	if got != wantRRset {
		t.Errorf("history_rrset:\n got\n%s want\n%s", got, wantRRset)
	}
	// The quoted TXT record's data is stored as history_by_name has it.
	got = sess.MustExec(t, "SELECT rrname = any(h.rrname) AND rdata = [any(h.rdata)], countMerge(count) FROM "+s.Table("history_rrset")+
		" CROSS JOIN (SELECT rrname, rdata FROM "+s.Table("history")+" WHERE rrtype = 'TXT') AS h WHERE rrtype = 'TXT' GROUP BY rrname, rdata")
	if got != "1\t1\n" {
		t.Errorf("history_rrset TXT row: %q, want it equal to history's", got)
	}
}

// chdbArrayText is an Array(String) value as ClickHouse prints it in TSV: its elements quoted
// and escaped once, the whole not escaped again.
func chdbArrayText(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = chdbtest.Literal(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// chdbTSV escapes s as TabSeparated output does.
func chdbTSV(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "'", `\'`).Replace(s)
}

func chdbSortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j] < lines[j-1]; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestCompatModern runs the modern flavor's statements on ClickHouse 26.x: a new database,
// then writes, probes and history reads.
func TestCompatModern(t *testing.T) {
	sess := chdbtest.ForTest(t)
	version := strings.TrimSpace(sess.MustExec(t, "SELECT version()"))
	if !strings.HasPrefix(version, "26.") {
		t.Fatalf("chDB runs ClickHouse %s, want 26.x", version)
	}
	f := schema.DetectFlavor("26.5.1")
	if !f.Modern || !schema.DetectFlavor(version).Modern {
		t.Fatalf("detectFlavor: 26.5.1 → %+v, %s → %+v; want modern", f, version, schema.DetectFlavor(version))
	}
	s := schema.Schema{Flavor: f, DB: "pdns_modern", Retention: 30 * 24 * time.Hour}
	chdbtest.EnsureSchema(t, sess, s, 0)
	// A restart runs it again: nothing changes.
	chdbtest.EnsureSchema(t, sess, s, schema.Version)
	if got := sess.MustExec(t, "SELECT version, by FROM "+s.Table("schema_version")+" ORDER BY version"); got != "1\tpassivedns\n2\tpassivedns\n3\tpassivedns\n4\tpassivedns\n" {
		t.Errorf("schema_version rows: %q", got)
	}

	// The modern types are really used.
	got := sess.MustExec(t, "SELECT name, type FROM system.columns WHERE database = 'pdns_modern' AND table = 'responses' AND name IN "+
		"('time', 'client', 'qtype', 'sensor', 'answer.type', 'answer.data', 'qname') ORDER BY name")
	want := strings.Join([]string{
		"answer.data\tArray(String)",
		"answer.type\tArray(LowCardinality(String))",
		"client\tIPv6",
		"qname\tString",
		"qtype\tLowCardinality(String)",
		"sensor\tLowCardinality(String)",
		`time	DateTime64(3, \'UTC\')`,
	}, "\n") + "\n"
	if got != want {
		t.Errorf("responses column types:\n got\n%s want\n%s", got, want)
	}
	got = sess.MustExec(t, "SELECT name, type FROM system.columns WHERE database = 'pdns_modern' AND table IN ('history_by_ip', 'history_by_name') "+
		"AND name IN ('ip', 'time_first') ORDER BY table, name")
	want = "ip\tIPv6\n" + `time_first	AggregateFunction(min, DateTime64(3, \'UTC\'))` + "\n" + `time_first	AggregateFunction(min, DateTime64(3, \'UTC\'))` + "\n"
	if got != want {
		t.Errorf("history column types:\n got\n%s want\n%s", got, want)
	}
	ttl := sess.MustExec(t, "SELECT engine_full FROM system.tables WHERE database = 'pdns_modern' AND name = 'responses'")
	if !strings.Contains(ttl, "TTL toDateTime(time) + toIntervalHour(720)") || !strings.Contains(ttl, "non_replicated_deduplication_window = 1000") {
		t.Errorf("responses engine: %s; want the 720 hour TTL and the deduplication window", ttl)
	}

	// Within the retention: on 26.x rows already past the TTL are not stored at all.
	base := time.Now().UTC().Truncate(24 * time.Hour).Add(-3*24*time.Hour + 23*time.Hour)
	before, after := chdbBatches(t, base)
	recordtest.Insert(t, sess, s, before)
	recordtest.Insert(t, sess, s, after)
	chdbCheckData(t, sess, s, base, before, after)

	// The insert settings the sink adds on modern servers: a second insert with the same
	// deduplication token adds nothing, neither to responses nor, through the views, to
	// the history tables (each has its own deduplication window).
	counts := func() string {
		return sess.MustExec(t, "SELECT (SELECT count() FROM "+s.Table("responses")+"), (SELECT sum(count) FROM "+s.Table("history")+
			"), (SELECT countMerge(count) FROM "+s.Table("history_by_ip")+"), (SELECT countMerge(count) FROM "+s.Table("history_by_rdata")+")")
	}
	n := counts()
	recordtest.Insert(t, sess, s, before)
	if got := counts(); got != n || !strings.HasPrefix(n, "7\t") {
		t.Errorf("counts (responses, history, by ip, by rdata) after a retry with the same token: %q, before it %q", got, n)
	}
}

// TestCompatModernUpgrade upgrades a version 1 database with data to version 2 on
// ClickHouse 26.x: the backfills must fill the new tables.
func TestCompatModernUpgrade(t *testing.T) {
	sess := chdbtest.ForTest(t)
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_upgrade"}
	chdbMigrateTo1(t, sess, s)
	chdbCheckUpgrade(t, sess, s, 1)
}

// chdbCheckUpgrade writes answers into s at version from, upgrades it as the plugin does,
// writes more, and checks every table against all of them.
func chdbCheckUpgrade(t *testing.T, sess *chdbtest.Session, s schema.Schema, from int) {
	t.Helper()
	base := time.Date(2024, 5, 1, 23, 0, 0, 0, time.UTC)
	before, after := chdbBatches(t, base)
	recordtest.Insert(t, sess, s, before)
	chdbtest.EnsureSchema(t, sess, s, from)
	recordtest.Insert(t, sess, s, after)
	chdbCheckData(t, sess, s, base, before, after)
}

// TestCompatLegacyOnModern runs the legacy flavor's statements on ClickHouse 26.x: a database
// created under 18.16 keeps working after ClickHouse is upgraded, and the same statements
// still run there if the flavor were detected wrongly.
func TestCompatLegacyOnModern(t *testing.T) {
	for _, upgrade := range []bool{false, true} {
		t.Run(map[bool]string{false: "new", true: "upgrade"}[upgrade], func(t *testing.T) {
			sess := chdbtest.ForTest(t)
			s := schema.Schema{Flavor: schema.DetectFlavor("18.16.1"), DB: "pdns_legacy", Retention: 24 * time.Hour}
			if s.Flavor.Modern {
				t.Fatalf("18.16.1 detected as modern")
			}
			base := time.Date(2024, 5, 1, 23, 0, 0, 0, time.UTC)
			before, after := chdbBatches(t, base)
			if upgrade {
				chdbMigrateTo1(t, sess, s)
				recordtest.Insert(t, sess, s, before)
				chdbtest.EnsureSchema(t, sess, s, 1)
			} else {
				chdbtest.EnsureSchema(t, sess, s, 0)
				recordtest.Insert(t, sess, s, before)
			}
			recordtest.Insert(t, sess, s, after)
			got := sess.MustExec(t, "SELECT name, type FROM system.columns WHERE database = 'pdns_legacy' AND table = 'responses' AND name IN "+
				"('time', 'time_ms', 'client', 'qtype') ORDER BY name")
			want := "client\tFixedString(16)\nqtype\tString\n" + `time	DateTime(\'UTC\')` + "\ntime_ms\tUInt16\n"
			if got != want {
				t.Errorf("legacy column types on 26.x:\n got\n%s want\n%s", got, want)
			}
			chdbCheckData(t, sess, s, base, before, after)
		})
	}
}

// TestCompatModernRetryAfterCutInsert is the retry of an insert that a server's death cut
// short after the raw part, before some view's part: on servers with deduplication tokens the
// sink sends the batch again whole with the same token, and every table must end up holding
// it exactly once. A detached view stands in for the death: its table misses the first try.
func TestCompatModernRetryAfterCutInsert(t *testing.T) {
	sess := chdbtest.ForTest(t)
	f := schema.DetectFlavor("26.5.1")
	base := time.Now().UTC().Truncate(24 * time.Hour).Add(-24*time.Hour + 23*time.Hour)
	batch, _ := chdbBatches(t, base)

	// contents fingerprints every table of a database: rows after merging, and the answers
	// counted where the table counts them.
	tables := func(db string) []string {
		return strings.Fields(sess.MustExec(t, "SELECT name FROM system.tables WHERE database = '"+db+"' AND engine LIKE '%MergeTree' AND name != 'schema_version' ORDER BY name"))
	}
	contents := func(db string) string {
		var b strings.Builder
		for _, tb := range tables(db) {
			q := "SELECT count(), 0 FROM `" + db + "`.`" + tb + "`"
			if tb != "responses" {
				q = "SELECT count(), 0 FROM `" + db + "`.`" + tb + "` FINAL"
			}
			if strings.Contains(sess.MustExec(t, "SELECT name FROM system.columns WHERE database = '"+db+"' AND table = '"+tb+"' AND name = 'count'"), "count") {
				q = "SELECT count(), toUInt64(countMerge(count)) FROM (SELECT * FROM `" + db + "`.`" + tb + "` FINAL)"
			}
			fmt.Fprintf(&b, "%s %s", tb, sess.MustExec(t, q))
		}
		return b.String()
	}

	ref := schema.Schema{Flavor: f, DB: "pdns_retry_ref"}
	chdbtest.EnsureSchema(t, sess, ref, 0)
	recordtest.Insert(t, sess, ref, batch)
	want := strings.ReplaceAll(contents(ref.DB), ref.DB, "")
	views := strings.Fields(sess.MustExec(t, "SELECT name FROM system.tables WHERE database = '"+ref.DB+"' AND engine = 'MaterializedView' ORDER BY name"))
	if len(views) != 7 {
		t.Fatalf("%d materialized views, want 7: %q", len(views), views)
	}
	for i, view := range views {
		t.Run(view, func(t *testing.T) {
			s := schema.Schema{Flavor: f, DB: fmt.Sprintf("pdns_retry_%d", i)}
			chdbtest.EnsureSchema(t, sess, s, 0)
			sess.MustExec(t, "DETACH TABLE "+s.Table(view))
			recordtest.Insert(t, sess, s, batch)
			sess.MustExec(t, "ATTACH TABLE "+s.Table(view))
			if got := strings.ReplaceAll(contents(s.DB), s.DB, ""); got == want {
				t.Fatalf("the cut insert already left every table complete:\n%s", got)
			}
			recordtest.Insert(t, sess, s, batch) // the sink's retry: same rows, same token
			if got := strings.ReplaceAll(contents(s.DB), s.DB, ""); got != want {
				t.Errorf("after the retry:\n%s\nwant, as one clean insert leaves them:\n%s", got, want)
			}
			recordtest.Insert(t, sess, s, batch)
			if got := strings.ReplaceAll(contents(s.DB), s.DB, ""); got != want {
				t.Errorf("after a second retry:\n%s\nwant:\n%s", got, want)
			}
			// The sink's look-up after a retry (did it land twice?) sees the batch once.
			if got, once := chdbProbe(t, sess, s, batch, 0), chdbProbe(t, sess, ref, batch, 0); got != once || once == "0\n" {
				t.Errorf("the batch's first name after the retries: %q rows, after one clean insert %q", got, once)
			}
		})
	}
}
