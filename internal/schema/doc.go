// Package schema renders the ClickHouse DDL and the SQL fragments that the write and the
// read side share, for two flavors (18.x with portable types, 22.8 and later with DateTime64,
// IPv6, LowCardinality and TTL), on one server or on a cluster, and brings a database to the
// current schema version (Ensure).
package schema
