package schema_test

import (
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/schema/schematest"

	"strings"
	"testing"
	"time"
)

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
	before = recordtest.WithSensor(t, before, "old-sensor")
	recordtest.Insert(t, sess, s, before)
	chdbtest.EnsureSchema(t, sess, s, 2)
	recordtest.Insert(t, sess, s, after)
	chdbCheckData(t, sess, s, base, before, after)
	for _, c := range schematest.DetailChecks {
		got := sess.MustExec(t, c.DetailQuery(s.Table(c.Table)))
		want := sess.MustExec(t, c.RecomputeQuery(s.Table("responses")))
		if got != want || !strings.Contains(got, "old-sensor") {
			t.Errorf("%s:\n%s recomputed from responses:\n%s", c.Table, got, want)
		}
	}
}
