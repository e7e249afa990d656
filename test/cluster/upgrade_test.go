package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/passivedns/passivedns/internal/schema"
)

// TestUpgradeOnCluster: a cluster at schema version 1 holding answers on both shards is
// brought to the current version by Ensure through every node at once: every node gets the new tables
// (ON CLUSTER), the backfill reads every shard, and the history of the new tables counts each
// answer once.
func TestUpgradeOnCluster(t *testing.T) {
	db := database(t, "upgrade")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cl.Nodes[0].TCPAddr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := schema.Schema{Flavor: schema.DetectFlavor("18.16.1"), DB: db, Cluster: clustertestName}
	v1 := s.Migrations()[0]
	if v1.Version != 1 {
		t.Fatalf("first migration is version %d", v1.Version)
	}
	for _, q := range append([]string{s.CreateDatabase(), s.CreateVersionTable()}, v1.Statements...) {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.Exec(ctx, s.InsertVersion(), uint32(1), "test"); err != nil {
		t.Fatal(err)
	}
	// Two answers on each shard, written into the local tables as resolvers do.
	for shard, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		typ := map[bool]string{true: "AAAA", false: "A"}[strings.Contains(ip, ":")]
		node := cl.Shard(shard + 1)[0]
		for i := range 2 {
			q := fmt.Sprintf("INSERT INTO %s.responses_local (time, time_ms, sensor, server, transport, client, qname, qtype, qclass, rcode, flags,"+
				" `answer.name`, `answer.type`, `answer.class`, `answer.ttl`, `answer.data`, `authority.name`, `authority.type`, `authority.class`, `authority.ttl`, `authority.data`,"+
				" size, duration_us, batch_id) SELECT toDateTime('2026-11-0%d 10:00:00'), 0, 's', 'dns://:53', 'udp', toFixedString('', 16), 'up.example.org.', '%s', 'IN', 'NOERROR', 0,"+
				" ['up.example.org.', 'up.example.org.'], ['CNAME', '%s'], ['IN', 'IN'], [60, 60], ['cdn.example.net.', '%s'], [], [], [], [], [], 100, 10, %d",
				db, i+1, typ, typ, ip, 100*shard+i)
			query(t, node.Server, q)
		}
	}
	// A resolver on every node upgrades at once: one backfills, the others wait for it.
	errs := make(chan error, len(cl.Nodes))
	for _, node := range cl.Nodes {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{node.TCPAddr}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() { errs <- schema.Ensure(ctx, conn, s, true, clog.NewWithPlugin("passivedns")) }()
	}
	for range cl.Nodes {
		if err := <-errs; err != nil {
			t.Errorf("upgrade: %v", err)
		}
	}
	if got := query(t, cl.Nodes[0].Server, "SELECT version, by FROM "+db+".schema_version ORDER BY version"); got != fmt.Sprintf("1\ttest\n2\tpassivedns\n3\tpassivedns\n%d\tpassivedns\n", schema.Version) {
		t.Errorf("schema_version after the upgrades:\n%s", got)
	}
	for _, node := range cl.Nodes {
		// Every node is a replica of schema_version: the version recorded through node1
		// reaches the others within replication's delay.
		waitCount(t, node.Server, "SELECT toUInt64(max(version)) FROM "+db+".schema_version", schema.Version, 30*time.Second)
		got := query(t, node.Server, "SELECT name, engine FROM system.tables WHERE database = '"+db+"' AND (name LIKE 'history_by_%' OR name LIKE 'history_rrset%') ORDER BY name")
		for _, want := range []string{"history_by_ip\tDistributed", "history_by_ip_local\tReplicatedAggregatingMergeTree",
			"history_by_rdata\tDistributed", "history_by_rdata_local\tReplicatedAggregatingMergeTree",
			"history_rrset\tDistributed", "history_rrset_local\tReplicatedAggregatingMergeTree"} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("%s: no %s in\n%s", node.Name, want, got)
			}
		}
	}
	for _, node := range cl.Nodes {
		q := "SELECT IPv6NumToString(ip), rrtype, countMerge(count) FROM " + db + ".history_by_ip GROUP BY ip, rrtype ORDER BY rrtype"
		waitAnswer(t, node.Server, q, "::ffff:192.0.2.10\tA\t2\n2001:db8::10\tAAAA\t2\n", 30*time.Second)
		q = "SELECT target, rrname, countMerge(count) FROM " + db + ".history_by_rdata GROUP BY target, rrname"
		waitAnswer(t, node.Server, q, "cdn.example.net.\tup.example.org.\t4\n", 30*time.Second)
		// RRsets: each answer's CNAME and its address are sets of their own.
		q = "SELECT rrtype, rdata, countMerge(count) FROM " + db + ".history_rrset GROUP BY rrname, rrtype, rdata ORDER BY rrtype"
		waitAnswer(t, node.Server, q, "A\t['192.0.2.10']\t2\nAAAA\t['2001:db8::10']\t2\nCNAME\t['cdn.example.net.']\t4\n", 30*time.Second)
	}
}
