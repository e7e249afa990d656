package schema_test

import (
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/schema"

	"strings"
	"testing"
	"time"
)

// detailRecompute is what the detail tables must hold: the sensors and TTLs of every
// answer record in responses, per key of each history table.
var detailChecks = []struct{ table, detail, recompute string }{
	{"history_detail_by_name",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata"},
	{"history_detail_by_ip",
		"SELECT rrname, rrtype, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY ip, rrname, rrtype ORDER BY rrname, rrtype, min(ip)",
		"SELECT rrname, rrtype, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl WHERE rrtype IN ('A', 'AAAA') GROUP BY rdata, rrname, rrtype ORDER BY rrname, rrtype, min(IPv6StringToNum(if(rrtype = 'A', concat('::ffff:', rdata), rdata)))"},
	{"history_detail_by_rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArrayMerge(sensors)), minMerge(ttl_min), maxMerge(ttl_max) FROM %s GROUP BY target, rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata",
		"SELECT rrname, rrtype, rdata, arraySort(groupUniqArray(CAST(sensor AS String))), min(ttl), max(ttl) FROM %s ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata, answer.ttl AS ttl " +
			"WHERE rrtype IN ('CNAME', 'DNAME', 'NS', 'PTR', 'MX', 'KX', 'HTTPS', 'SVCB', 'SRV') GROUP BY rrname, rrtype, rdata ORDER BY rrname, rrtype, rdata"},
}

func sprintfTable(q, table string) string { return strings.Replace(q, "%s", table, 1) }

// TestCompatModernUpgradeV3 upgrades a version 2 database with data to version 3 on
// ClickHouse 26.x: the detail tables must equal what the raw log says, for rows
// written before the upgrade (backfill) and after it (views).
func TestCompatModernUpgradeV3(t *testing.T) {
	sess := chdbtest.ForTest(t)
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_upgrade3"}
	sess.MustExec(t, s.CreateDatabase())
	sess.MustExec(t, s.CreateVersionTable())
	for _, m := range s.Migrations()[:2] {
		for _, q := range m.Statements {
			sess.MustExec(t, q)
		}
		sess.MustExec(t, chdbtest.Bind(t, s.InsertVersion(), uint32(m.Version), "passivedns"))
	}
	base := time.Date(2024, 5, 1, 23, 0, 0, 0, time.UTC)
	before, after := chdbBatches(t, base)
	for i := range before.Sensor {
		before.Sensor[i] = "old-sensor"
	}
	chdbtest.Insert(t, sess, s, before)
	chdbtest.EnsureSchema(t, sess, s, 2)
	chdbtest.Insert(t, sess, s, after)
	chdbCheckData(t, sess, s, base, before, after)
	for _, c := range detailChecks {
		got := sess.MustExec(t, sprintfTable(c.detail, s.Table(c.table)))
		want := sess.MustExec(t, sprintfTable(c.recompute, s.Table("responses")))
		if got != want || !strings.Contains(got, "old-sensor") {
			t.Errorf("%s:\n%s recomputed from responses:\n%s", c.table, got, want)
		}
	}
}
