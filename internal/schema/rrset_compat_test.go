package schema_test

import (
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/schema"

	"testing"
)

// TestCompatUpgradeV4 upgrades a version 3 database with data to version 4 on ClickHouse
// 26.x, in either flavor: the RRsets of the answers written before the upgrade come from
// the backfill, those after it from the view (chdbCheckData), and the other tables read
// as before.
func TestCompatUpgradeV4(t *testing.T) {
	for _, version := range []string{"26.5.1", "18.16.1"} {
		t.Run(version, func(t *testing.T) {
			sess := chdbtest.ForTest(t)
			s := schema.Schema{Flavor: schema.DetectFlavor(version), DB: "pdns_upgrade4"}
			sess.MustExec(t, s.CreateDatabase())
			sess.MustExec(t, s.CreateVersionTable())
			for _, m := range s.Migrations()[:3] {
				if m.Version == 4 {
					t.Fatal("migrations [:3] include version 4")
				}
				for _, q := range m.Statements {
					sess.MustExec(t, q)
				}
				sess.MustExec(t, chdbtest.Bind(t, s.InsertVersion(), uint32(m.Version), "passivedns"))
			}
			chdbCheckUpgrade(t, sess, s, 3)
		})
	}
}
