package clustertest

import (
	"fmt"
	"strings"
	"testing"
)

// clusterSchema is a reduced copy of the plugin's schema (schema.go, 18.16 flavor) in the
// cluster shape the plugin will generate: replicated local tables under *_local, a
// materialized view on each node feeding the local history table, and Distributed tables
// under the names users and the API read.
func clusterSchema(db string) []string {
	on := " ON CLUSTER " + Name
	zk := func(table string) string { // the database is part of the path: two databases never share one
		return fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", db, table)
	}
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + db + on,
		"CREATE TABLE IF NOT EXISTS " + db + ".responses_local" + on + ` (
    time DateTime('UTC'),
    time_ms UInt16,
    sensor String,
    qname String,
    qtype String,
    answer Nested(name String, type String, class String, ttl UInt32, data String),
    batch_id UInt64
)
ENGINE = ReplicatedMergeTree(` + zk("responses_local") + `)
PARTITION BY toYYYYMMDD(time)
ORDER BY (reverse(qname), time)`,
		"CREATE TABLE IF NOT EXISTS " + db + ".history_by_name_local" + on + ` (
    rrname String,
    rrtype String,
    rdata String,
    time_first AggregateFunction(min, DateTime('UTC')),
    time_last AggregateFunction(max, DateTime('UTC')),
    count AggregateFunction(count)
)
ENGINE = ReplicatedAggregatingMergeTree(` + zk("history_by_name_local") + `)
ORDER BY (reverse(rrname), rrtype, rdata)`,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS " + db + ".history_by_name_mv" + on + " TO " + db + `.history_by_name_local AS
SELECT rrname, rrtype, rdata, minState(time) AS time_first, maxState(time) AS time_last, countState() AS count
FROM ` + db + `.responses_local
ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata
GROUP BY rrname, rrtype, rdata`,
		"CREATE TABLE IF NOT EXISTS " + db + ".responses" + on + " AS " + db + ".responses_local\nENGINE = Distributed(" + Name + ", " + db + ", responses_local, rand())",
		"CREATE TABLE IF NOT EXISTS " + db + ".history_by_name" + on + " AS " + db + ".history_by_name_local\nENGINE = Distributed(" + Name + ", " + db + ", history_by_name_local, rand())",
		"CREATE VIEW IF NOT EXISTS " + db + ".history" + on + ` AS
SELECT rrname, rrtype, rdata, minMerge(time_first) AS time_first, maxMerge(time_last) AS time_last, countMerge(count) AS count
FROM ` + db + `.history_by_name
GROUP BY rrname, rrtype, rdata`,
	}
}

// createSchema runs clusterSchema on node1; ON CLUSTER puts it on every node.
func createSchema(t *testing.T, db string) {
	t.Helper()
	for _, stmt := range clusterSchema(db) {
		mustQuery(t, c.Nodes[0], stmt)
	}
}

// block is an INSERT of rows deterministic in tag: the same tag gives the same block, which
// the replicated engine must store once. Each row answers one A record; rows of different
// tags share the name "shared.example." with times one day apart per offset.
func block(db, tag string, rows int, day int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + db + ".responses_local (time, time_ms, sensor, qname, qtype, answer.name, answer.type, answer.class, answer.ttl, answer.data, batch_id) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		name := fmt.Sprintf("%s-%d.example.", tag, i)
		if i == 0 {
			name = "shared.example."
		}
		fmt.Fprintf(&b, "(toDateTime('2026-12-%02d 10:00:00', 'UTC') + %d, %d, '%s', '%s', 'A', ['%s'], ['A'], ['IN'], [300], ['192.0.2.%d'], %d)",
			day, i, i%1000, tag, name, name, i%250, len(tag))
	}
	return b.String()
}

func mustQuery(t *testing.T, n *Node, sql string) string {
	t.Helper()
	out, err := n.Query(sql)
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return strings.TrimSpace(out)
}
