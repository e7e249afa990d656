package schema_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/schema"
)

// The cluster DDL on ClickHouse 26.x, as far as an engine without a cluster allows: chDB has
// no remote_servers and no Keeper, so ON CLUSTER, the Replicated engines and Distributed
// cannot run there. Every generated statement must parse as it is (formatQuery); then the
// same statements with ON CLUSTER dropped, the Replicated engines in their plain form and
// Distributed replaced by remote() over this server run, and rows inserted into the local
// table read back through the Distributed names and the history view.

var (
	onCluster   = regexp.MustCompile(" ON CLUSTER `[^`]+`")
	replicated  = regexp.MustCompile(`Replicated(\w*MergeTree)\('[^']*', '[^']*'\)`)
	distributed = regexp.MustCompile("AS (`[^`]+`\\.`[^`]+`)\nENGINE = Distributed\\(`[^`]+`, (`[^`]+`), (`[^`]+`), rand\\(\\)\\)")
)

func TestClusterDDLOnModern(t *testing.T) {
	sess, err := chdbtest.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	s := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_cluster", Cluster: "passivedns"}
	ddl := []string{s.CreateDatabase(), s.CreateVersionTable()}
	for _, m := range s.Migrations() {
		ddl = append(ddl, m.Statements...)
	}
	ddl = append(ddl, s.InsertResponses()+" VALUES")
	replicatedSeen, distributedSeen := 0, 0
	for _, q := range ddl {
		if strings.HasPrefix(q, "CREATE") && !strings.Contains(q, "ON CLUSTER `passivedns`") {
			t.Errorf("not ON CLUSTER:\n%s", q)
		}
		replicatedSeen += len(replicated.FindAllString(q, -1))
		distributedSeen += len(distributed.FindAllString(q, -1))
		if strings.HasSuffix(q, " VALUES") {
			continue // an INSERT without its data does not format
		}
		if _, err := sess.Exec("SELECT formatQuery(" + chdbtest.Literal(q) + ")"); err != nil {
			t.Errorf("does not parse on 26.x: %v\n%s", err, q)
		}
	}
	// schema_version, responses, three history tables, their three detail tables and
	// the RRsets.
	if replicatedSeen != 9 || distributedSeen != 8 {
		t.Errorf("%d Replicated engines and %d Distributed tables, want 9 and 8", replicatedSeen, distributedSeen)
	}
	if !strings.Contains(s.InsertResponses(), "`pdns_cluster`.`responses_local`") ||
		!strings.Contains(s.UnlandedQuery(), "`pdns_cluster`.`responses_local`") {
		t.Errorf("inserts and the landed check must use the local table:\n%s\n%s", s.InsertResponses(), s.UnlandedQuery())
	}
	for _, q := range ddl[:len(ddl)-1] {
		q = onCluster.ReplaceAllString(q, "")
		q = replicated.ReplaceAllString(q, "$1")
		q = distributed.ReplaceAllString(q, "AS remote('127.0.0.1', $2, $3)")
		if strings.HasPrefix(q, "INSERT INTO `pdns_cluster`.`schema_version`") {
			continue // bound parameters
		}
		if _, err := sess.Exec(q); err != nil {
			t.Fatalf("on 26.x: %v\n%s", err, q)
		}
	}
	if _, err := sess.Exec(s.InsertResponses() + " SELECT now64(3), 's1', 'dns://:53', 'udp', toIPv6('::'), 'www.example.org.', 'A', 'IN', 'NOERROR', 0," +
		" ['www.example.org.'], ['A'], ['IN'], [60], ['192.0.2.1'], [], [], [], [], [], 100, 10, 7"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"SELECT count() FROM `pdns_cluster`.`responses`":                                                             "1\n",
		"SELECT rrname, rdata, count FROM `pdns_cluster`.`history`":                                                  "www.example.org.\t192.0.2.1\t1\n",
		"SELECT toString(ip), countMerge(count) FROM `pdns_cluster`.`history_by_ip` GROUP BY ip":                     "::ffff:192.0.2.1\t1\n",
		"SELECT rrname, rdata, countMerge(count) FROM `pdns_cluster`.`history_rrset` GROUP BY rrname, rrtype, rdata": "www.example.org.\t['192.0.2.1']\t1\n",
	} {
		if got, err := sess.Exec(q); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", q, got, err, want)
		}
	}
}
