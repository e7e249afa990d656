package schema_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/schema"
)

// TestUpgradeClaimOnModern: the upgrade claim's statements on ClickHouse 26.x. A second
// claim fails as one another process holds, the claim reads back with its token and age,
// and once given back it reads as none. On a cluster the same statements carry ON CLUSTER,
// and the versions' replica syncs.
func TestUpgradeClaimOnModern(t *testing.T) {
	sess := chdbtest.ForTest(t)
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_claim"}
	sess.MustExec(t, s.CreateDatabase())
	sess.MustExec(t, s.CreateVersionTable())

	claim := chdbtest.Bind(t, s.SelectUpgradeClaim(), s.DB)
	if got := sess.MustExec(t, claim); got != "" {
		t.Fatalf("claim before any was made: %q, want none", got)
	}
	sess.MustExec(t, s.ClaimUpgrade("0123456789abcdef"))
	_, err := sess.Exec(s.ClaimUpgrade("fedcba9876543210"))
	if err == nil {
		t.Fatal("a second claim succeeded")
	}
	if !schema.ClaimedByOther(err) {
		t.Errorf("a second claim's error is not read as claimed by another: %v", err)
	}
	if got := sess.MustExec(t, claim); !regexp.MustCompile(`^\\'0123456789abcdef\\'\t[0-9]\n$`).MatchString(got) {
		t.Errorf("claim: %q, want the first token, quoted (TSV escapes the quotes), and an age of seconds", got)
	}
	sess.MustExec(t, s.ReleaseUpgrade())
	sess.MustExec(t, s.ReleaseUpgrade()) // given back twice: nothing to drop
	if got := sess.MustExec(t, claim); got != "" {
		t.Errorf("claim after it was given back: %q, want none", got)
	}

	c := s
	c.Cluster = "passivedns"
	for _, q := range []string{c.ClaimUpgrade("0123456789abcdef"), c.ReleaseUpgrade(), c.SyncVersions()} {
		if strings.HasPrefix(q, "CREATE") || strings.HasPrefix(q, "DROP") {
			if !strings.Contains(q, " ON CLUSTER `passivedns`") {
				t.Errorf("not ON CLUSTER:\n%s", q)
			}
		}
		if _, err := sess.Exec("SELECT formatQuery(" + chdbtest.Literal(q) + ")"); err != nil {
			t.Errorf("does not parse on 26.x: %v\n%s", err, q)
		}
	}
}
