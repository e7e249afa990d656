package chsink_test

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"

	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSchemaUpgradeV4 records answers with a version 3 schema on 18.16, upgrades to
// version 4 and checks that history_rrset was backfilled with the RRsets as they were
// served (one row for a set whatever the order of its records), that the history read
// before is unchanged, and that the view takes over without a second backfill.
func TestSchemaUpgradeV4(t *testing.T) {
	db := testCH.TestDB(t)
	opts := options(t, db)
	v3, _ := sinkAtVersion(t, opts, 3)
	ctx := context.Background()
	t1 := time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC)
	resp := func(at time.Time, qname string, qtype uint16, rrs ...string) record.Capture {
		return recordtest.CaptureOf(t, recordtest.Msg(t, qname, qtype, 0, false, rrs...), at, "192.0.2.100", "udp")
	}
	mustWrite(t, v3, recordtest.BatchOf(t,
		resp(t1, "www.example.org.", dns.TypeA, "www.example.org. 60 IN A 192.0.2.2", "www.example.org. 60 IN A 192.0.2.1"),
		resp(t1.Add(time.Hour), "www.example.org.", dns.TypeA, "www.example.org. 60 IN A 192.0.2.1", "www.example.org. 60 IN A 192.0.2.2"),
		resp(t1.Add(time.Hour), "alias.example.org.", dns.TypeA,
			"alias.example.org. 60 IN CNAME www.example.org.", "www.example.org. 60 IN A 192.0.2.1"),
	))
	historyBefore := history(t, db)

	upgraded := newSink(t, opts)
	if err := upgraded.Prepare(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	if got, want := versions(t, db), []string{"1 test", "2 test", "3 test", "4 passivedns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema_version rows %q, want %q", got, want)
	}
	if got := tables(t, db); !reflect.DeepEqual(got, allTables) {
		t.Errorf("tables after the upgrade:\n got  %q\n want %q", got, allTables)
	}
	rrsets := func() string {
		t.Helper()
		out, err := testCH.Query("SELECT rrname, rrtype, rdata, toUInt32(minMerge(time_first)) - " + strconv.FormatInt(t1.Unix(), 10) +
			", toUInt32(maxMerge(time_last)) - " + strconv.FormatInt(t1.Unix(), 10) + ", countMerge(count) FROM `" + db + "`.history_rrset " +
			"GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Backfilled: the pair in either order is one set; the CNAME chain's A record is a
	// set of its own.
	if got, want := rrsets(), "alias.example.org.\tCNAME\t['www.example.org.']\t3600\t3600\t1\n"+
		"www.example.org.\tA\t['192.0.2.1']\t3600\t3600\t1\n"+
		"www.example.org.\tA\t['192.0.2.1','192.0.2.2']\t0\t3600\t2\n"; got != want {
		t.Errorf("history_rrset after the backfill:\n%s want\n%s", got, want)
	}
	compareHistory(t, "history after the upgrade", history(t, db), historyBefore)

	// The view takes over; a restart does not backfill again.
	mustWrite(t, upgraded, recordtest.BatchOf(t,
		resp(t1.Add(2*time.Hour), "www.example.org.", dns.TypeA, "www.example.org. 60 IN A 192.0.2.2", "www.example.org. 60 IN A 192.0.2.1"),
		resp(t1.Add(3*time.Hour), "www.example.org.", dns.TypeA,
			"www.example.org. 60 IN A 192.0.2.3", "www.example.org. 60 IN A 192.0.2.1", "www.example.org. 60 IN A 192.0.2.2"),
	))
	if err := newSink(t, opts).Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := rrsets(), "alias.example.org.\tCNAME\t['www.example.org.']\t3600\t3600\t1\n"+
		"www.example.org.\tA\t['192.0.2.1']\t3600\t3600\t1\n"+
		"www.example.org.\tA\t['192.0.2.1','192.0.2.2']\t0\t7200\t3\n"+
		"www.example.org.\tA\t['192.0.2.1','192.0.2.2','192.0.2.3']\t10800\t10800\t1\n"; got != want {
		t.Errorf("history_rrset after writes through the view:\n%s want\n%s", got, want)
	}
}

// TestSchemaUpgradeConcurrent: several resolvers upgrading one database at once (two
// started together, a fleet rolled out at once) backfill the new tables once: the
// answers from before the upgrade are counted once in history_rrset, and every upgrader
// returns only once the version is recorded.
func TestSchemaUpgradeConcurrent(t *testing.T) {
	db := testCH.TestDB(t)
	opts := options(t, db)
	v3, _ := sinkAtVersion(t, opts, 3)
	t1 := time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC)
	var batch []record.Capture
	for i := range 200 {
		batch = append(batch, recordtest.CaptureOf(t, recordtest.Msg(t, "www.example.org.", dns.TypeA, 0, false, "www.example.org. 60 IN A 192.0.2.1"),
			t1.Add(time.Duration(i)*time.Second), "192.0.2.100", "udp"))
	}
	mustWrite(t, v3, recordtest.BatchOf(t, batch...))

	const upgraders = 4
	errs := make(chan error, upgraders)
	for range upgraders {
		s := newSink(t, opts)
		go func() { errs <- s.Prepare(context.Background()) }()
	}
	for range upgraders {
		if err := <-errs; err != nil {
			t.Errorf("upgrading: %v", err)
		}
	}
	out, err := testCH.Query("SELECT countMerge(count) FROM `" + db + "`.history_rrset")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "200" {
		t.Errorf("history_rrset counts %s answers after %d concurrent upgrades, want 200", got, upgraders)
	}
	if got, want := versions(t, db), []string{"1 test", "2 test", "3 test", "4 passivedns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema_version rows %q, want %q", got, want)
	}
}
