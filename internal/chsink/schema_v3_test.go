package chsink_test

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/schema/schematest"

	"context"
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// sinkAtVersion creates the schema of opts up to version (the migrations a build of that
// version ran) and returns a sink that writes to it as such a build would, and the
// schema.
func sinkAtVersion(t *testing.T, opts chsink.Options, version int) (*chsink.Sink, schema.Schema) {
	t.Helper()
	sch := schemaFor(t, opts)
	conn := schemaConn(t, opts)
	ctx := context.Background()
	for _, q := range []string{sch.CreateDatabase(), sch.CreateVersionTable()} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range sch.Migrations()[:version] {
		for _, q := range m.Statements {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := conn.Exec(ctx, sch.InsertVersion(), uint32(m.Version), "test"); err != nil {
			t.Fatal(err)
		}
	}
	fixed := opts
	fixed.Fixed = &sch
	return newSink(t, fixed), sch
}

// TestSchemaUpgradeV3 records responses of two sensors with a version 2 schema on
// 18.16, upgrades to version 3 and checks that the detail tables were backfilled from
// them, that the history read before is unchanged, and that the detail views take over.
func TestSchemaUpgradeV3(t *testing.T) {
	db := testCH.TestDB(t)
	opts := options(t, db)
	v2, sch := sinkAtVersion(t, opts, 2)
	ctx := context.Background()
	t1 := time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC)
	resp := func(m *dns.Msg, at time.Time) record.Capture {
		return recordtest.CaptureOf(t, m, at, "192.0.2.100", "udp")
	}
	as := func(sensor string, b *record.Batch) *record.Batch { return recordtest.WithSensor(t, b, sensor) }
	mustWrite(t, v2, recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"), t1),
		resp(recordtest.Msg(t, "example.org.", dns.TypeMX, 0, false, "example.org. 300 IN MX 10 mail.example.org."), t1),
	))
	mustWrite(t, v2, as("sensor-2", recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 20 IN A 192.0.2.1"), t1.Add(time.Hour)),
		resp(recordtest.Msg(t, "v6.example.org.", dns.TypeAAAA, 0, false, "v6.example.org. 3600 IN AAAA 2001:db8::1"), t1.Add(time.Hour)),
	)))
	historyBefore := history(t, db)
	ipBefore := historyByIP(t, db, sch.Flavor)

	upgraded := newSink(t, opts)
	if err := upgraded.Prepare(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	if got, want := versions(t, db), []string{"1 test", "2 test", "3 passivedns", "4 passivedns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema_version rows %q, want %q", got, want)
	}
	if got := tables(t, db); !reflect.DeepEqual(got, allTables) {
		t.Errorf("tables after the upgrade:\n got  %q\n want %q", got, allTables)
	}
	detail := func(table string) string {
		t.Helper()
		for _, c := range schematest.DetailChecks {
			if c.Table == table {
				out, err := testCH.Query(c.DetailQuery("`" + db + "`." + table))
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
		}
		return ""
	}
	if got, want := detail("history_detail_by_name"), "example.org.\tMX\t10 mail.example.org.\t['sensor-1']\t300\t300\n"+
		"v6.example.org.\tAAAA\t2001:db8::1\t['sensor-2']\t3600\t3600\n"+
		"www.example.org.\tA\t192.0.2.1\t['sensor-1','sensor-2']\t20\t60\n"; got != want {
		t.Errorf("history_detail_by_name after the backfill:\n%s want\n%s", got, want)
	}
	if got, want := detail("history_detail_by_ip"), "v6.example.org.\tAAAA\t['sensor-2']\t3600\t3600\nwww.example.org.\tA\t['sensor-1','sensor-2']\t20\t60\n"; got != want {
		t.Errorf("history_detail_by_ip after the backfill:\n%s want\n%s", got, want)
	}
	if got, want := detail("history_detail_by_rdata"), "example.org.\tMX\t10 mail.example.org.\t['sensor-1']\t300\t300\n"; got != want {
		t.Errorf("history_detail_by_rdata after the backfill:\n%s want\n%s", got, want)
	}
	// Old data reads as before.
	compareHistory(t, "history after the upgrade", history(t, db), historyBefore)
	compareHistory(t, "history_by_ip after the upgrade", historyByIP(t, db, sch.Flavor), ipBefore)

	// The views take over; a restart does not backfill again (min/max would not show a
	// second backfill, so a new sensor and TTL are written after the upgrade).
	mustWrite(t, upgraded, as("sensor-3", recordtest.BatchOf(t,
		resp(recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 90 IN A 192.0.2.1"), t1.Add(2*time.Hour)),
	)))
	if err := newSink(t, opts).Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := detail("history_detail_by_name"), "example.org.\tMX\t10 mail.example.org.\t['sensor-1']\t300\t300\n"+
		"v6.example.org.\tAAAA\t2001:db8::1\t['sensor-2']\t3600\t3600\n"+
		"www.example.org.\tA\t192.0.2.1\t['sensor-1','sensor-2','sensor-3']\t20\t90\n"; got != want {
		t.Errorf("history_detail_by_name after a write:\n%s want\n%s", got, want)
	}
	if n := testCH.Count(t, "SELECT count() FROM `"+db+"`.history_detail_by_name"); n != 4 {
		t.Errorf("history_detail_by_name has %d rows (3 backfilled, 1 by the view), want 4", n)
	}
	for _, c := range schematest.DetailChecks {
		got, err := testCH.Query(c.DetailQuery("`" + db + "`." + c.Table))
		if err != nil {
			t.Fatal(err)
		}
		want, err := testCH.Query(c.RecomputeQuery("`" + db + "`.responses"))
		if err != nil {
			t.Fatal(err)
		}
		if got != want || got == "" {
			t.Errorf("%s:\n%s recomputed from responses:\n%s", c.Table, got, want)
		}
	}
}
