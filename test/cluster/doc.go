// Package cluster tests passivedns on a real ClickHouse cluster: ZooKeeper and four
// clickhouse-server 18.16 processes on loopback, two shards of two replicas
// (internal/clustertest), written to by built CoreDNS binaries that answer from an
// authoritative CoreDNS on loopback. It checks that what a cluster records reads back like
// what one server records, through SQL and through the API, and that nothing is lost or
// doubled when a replica is killed or ZooKeeper goes away.
package cluster
