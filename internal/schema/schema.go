package schema

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Version is the newest schema this build knows. Each migration moves a database
// from version N-1 to N; see migrations.
const Version = 4

// Flavor is what the connected server supports. Modern servers (22.8 and later) get
// DateTime64, IPv6, LowCardinality, codecs, TTL and insert deduplication tokens; older
// ones (Debian's 18.16) get portable equivalents with the same column names.
type Flavor struct {
	Modern  bool
	Version string
}

const modernMajor, modernMinor = 22, 8

func DetectFlavor(version string) Flavor {
	f := Flavor{Version: version}
	parts := strings.SplitN(version, ".", 3)
	if len(parts) >= 2 {
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 == nil && err2 == nil {
			f.Modern = major > modernMajor || major == modernMajor && minor >= modernMinor
		}
	}
	return f
}

func (f Flavor) timeType() string {
	if f.Modern {
		return "DateTime64(3, 'UTC')"
	}
	return "DateTime('UTC')"
}

func (f Flavor) lowCardinality() string {
	if f.Modern {
		return "LowCardinality(String)"
	}
	return "String"
}

func (f Flavor) ipType() string {
	if f.Modern {
		return "IPv6"
	}
	return "FixedString(16)"
}

// codec is a column codec clause, empty where the server has none.
func (f Flavor) codec(c string) string {
	if f.Modern {
		return " CODEC(" + c + ")"
	}
	return ""
}

// ipExpr turns the text of an A or AAAA record into the ip column's type; A records
// become IPv4-mapped IPv6 addresses so one ordered column serves both families. One parse
// of the text as IPv6 (an A record as "::ffff:a.b.c.d"): current ClickHouse evaluates both
// branches of an if here, and its IPv4StringToNum throws on AAAA data (error 675).
func (f Flavor) ipExpr(rrtype, rdata string) string {
	e := fmt.Sprintf("IPv6StringToNum(if(%s = 'A', concat('::ffff:', %s), %s))", rrtype, rdata, rdata)
	if f.Modern {
		return "toIPv6(" + e + ")"
	}
	return e
}

// Schema renders the DDL for one database on one flavor, on one server or on a cluster.
//
// On a cluster (Cluster set: a cluster of the servers' remote_servers) every statement runs
// ON CLUSTER; the data lives in replicated tables named NAME_local on every node, and a
// Distributed table under each usual name (responses, history_by_*) reads the whole
// cluster, so users' SQL and the history API see it unchanged. Writes go to the local
// tables of the node a resolver is connected to (Store), where the replicated engine drops
// a retried block it already has.
type Schema struct {
	Flavor    Flavor
	DB        string // validated identifier
	Retention time.Duration
	Cluster   string // validated identifier; empty: one server
	// Claimant names the writer in the upgrade claims Ensure makes (NewClaimant), so that
	// its retry knows a claim whose answer was lost; empty: a new name per call.
	Claimant string
}

// Table is the name users and the read side query: on a cluster, the Distributed table.
func (s Schema) Table(name string) string { return "`" + s.DB + "`.`" + name + "`" }

// Store is the table that holds the data of name and takes inserts: on a cluster, the
// local replicated table of the connected node.
func (s Schema) Store(name string) string {
	if s.Cluster != "" {
		return s.Table(name + "_local")
	}
	return s.Table(name)
}

// onCluster is the ON CLUSTER clause of every DDL statement on a cluster.
func (s Schema) onCluster() string {
	if s.Cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + s.Cluster + "`"
}

// engine is the table engine of a data table: kind (MergeTree, AggregatingMergeTree) on
// one server, its Replicated form on a cluster, with one ZooKeeper path per shard and
// database so that several passivedns databases can share a cluster.
func (s Schema) engine(kind, name string) string {
	if s.Cluster == "" {
		return kind
	}
	return fmt.Sprintf("Replicated%s('/clickhouse/tables/{shard}/%s/%s_local', '{replica}')", kind, s.DB, name)
}

// createTable creates the data table name with the given columns and engine clauses and,
// on a cluster, the Distributed table in front of it.
func (s Schema) createTable(name, columns, kind, clauses string) []string {
	ddl := []string{"CREATE TABLE IF NOT EXISTS " + s.Store(name) + s.onCluster() + " (\n    " + columns + "\n)\nENGINE = " +
		s.engine(kind, name) + clauses}
	if s.Cluster != "" {
		// Reads only: writes go to the local tables, so the sharding key never decides
		// where a row lands and rand() spreads nothing twice.
		ddl = append(ddl, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s\nENGINE = Distributed(`%s`, `%s`, `%s_local`, rand())",
			s.Table(name), s.onCluster(), s.Store(name), s.Cluster, s.DB, name))
	}
	return ddl
}

// targetTypes are the record types whose data holds a domain name worth indexing, with
// the position of that name among the space-separated fields of their data.
const targetExpr = `multiIf(rrtype IN ('CNAME', 'DNAME', 'NS', 'PTR'), rdata,
		rrtype IN ('MX', 'KX', 'HTTPS', 'SVCB'), splitByChar(' ', rdata)[2],
		rrtype = 'SRV', splitByChar(' ', rdata)[4],
		'')`

const targetFilter = `rrtype IN ('CNAME', 'DNAME', 'NS', 'PTR', 'MX', 'KX', 'HTTPS', 'SVCB', 'SRV')`

// migration moves the schema to version; its statements are idempotent where
// ClickHouse allows (IF NOT EXISTS), so a migration interrupted midway can run again.
type migration struct {
	Version    int
	Statements []string
}

func (s Schema) Migrations() []migration {
	return []migration{
		{1, concat(s.createResponses(), s.createHistoryByName(), []string{s.historyByNameView(), s.historyView()})},
		{2, concat(
			s.createHistoryByIP(), []string{s.historyByIPView(), s.backfill("history_by_ip", "history_by_ip_mv", s.historyByIPSelect)},
			s.createHistoryByRdata(), []string{s.historyByRdataView(), s.backfill("history_by_rdata", "history_by_rdata_mv", s.historyByRdataSelect)},
		)},
		{3, s.detailStatements()},
		{4, s.rrsetStatements()},
	}
}

func concat(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func (s Schema) CreateDatabase() string {
	return "CREATE DATABASE IF NOT EXISTS `" + s.DB + "`" + s.onCluster()
}

// CreateVersionTable creates the table of applied migrations. On a cluster every node is
// a replica of one such table (one path for all shards), so each sees the version.
func (s Schema) CreateVersionTable() string {
	engine := "Log"
	if s.Cluster != "" {
		engine = fmt.Sprintf("ReplicatedMergeTree('/clickhouse/tables/all/%s/schema_version', '{shard}-{replica}') ORDER BY version", s.DB)
	}
	return "CREATE TABLE IF NOT EXISTS " + s.Table("schema_version") + s.onCluster() +
		" (version UInt32, applied DateTime, by String) ENGINE = " + engine
}

// ClaimUpgrade creates the table that claims a schema upgrade, its claimant's token (hex)
// as the default of its one column, where system.columns shows it. Without IF NOT EXISTS
// it succeeds for one caller only: on one server the database's DDL lock orders
// concurrent creations, on a cluster every node runs the ON CLUSTER tasks in the queue's
// one order.
func (s Schema) ClaimUpgrade(token string) string {
	return "CREATE TABLE " + s.Table(upgradeClaim) + s.onCluster() + " (by String DEFAULT '" + token + "') ENGINE = Log"
}

// SyncVersions waits until the connected node's replica of schema_version has every
// version recorded through the other nodes (cluster only).
func (s Schema) SyncVersions() string {
	return "SYSTEM SYNC REPLICA " + s.Table("schema_version")
}

// ReleaseUpgrade drops the claim.
func (s Schema) ReleaseUpgrade() string {
	return "DROP TABLE IF EXISTS " + s.Table(upgradeClaim) + s.onCluster()
}

// SelectUpgradeClaim reads the claim on the connected server: its token, quoted, and how many
// seconds ago it was made; no row when there is none. Its parameter is the database.
func (s Schema) SelectUpgradeClaim() string {
	return "SELECT c.default_expression, toUInt32(greatest(now() - t.metadata_modification_time, 0))" +
		" FROM system.columns AS c ANY INNER JOIN (SELECT database, name AS table, metadata_modification_time FROM system.tables) AS t USING (database, table)" +
		" WHERE c.database = ? AND c.table = '" + upgradeClaim + "' AND c.name = 'by'"
}

const upgradeClaim = "schema_upgrade_claim"

func (s Schema) section(name string) string {
	lc := s.Flavor.lowCardinality()
	return fmt.Sprintf("%s Nested(name String, type %s, class %s, ttl UInt32, data String)", name, lc, lc)
}

func (s Schema) createResponses() []string {
	f := s.Flavor
	lc := f.lowCardinality()
	var b strings.Builder
	cols := []string{
		"time " + f.timeType() + f.codec("Delta, ZSTD(1)"),
	}
	if !f.Modern {
		cols = append(cols, "time_ms UInt16") // DateTime has whole seconds only
	}
	cols = append(cols,
		"sensor "+lc,
		"server "+lc,
		"transport "+lc,
		"client "+f.ipType(),
		"qname String"+f.codec("ZSTD(1)"),
		"qtype "+lc,
		"qclass "+lc,
		"rcode "+lc,
		"flags UInt16",
		s.section("answer"),
		s.section("authority"),
		"size UInt32",
		"duration_us UInt32",
		"batch_id UInt64",
	)
	b.WriteString("\nPARTITION BY toYYYYMMDD(time)\nORDER BY (reverse(qname), time)")
	if f.Modern {
		if s.Retention > 0 {
			fmt.Fprintf(&b, "\nTTL toDateTime(time) + toIntervalHour(%d)", int64(s.Retention/time.Hour))
		}
		b.WriteString(s.dedupWindow())
	}
	return s.createTable("responses", strings.Join(cols, ",\n    "), "MergeTree", b.String())
}

// dedupWindow lets a retried insert with the same insert_deduplication_token be ignored,
// by the raw table and, through the views, by the history tables alike. Replicated tables
// deduplicate on their own (replicated_deduplication_window).
func (s Schema) dedupWindow() string {
	if !s.Flavor.Modern || s.Cluster != "" {
		return ""
	}
	return "\nSETTINGS non_replicated_deduplication_window = 1000"
}

// aggregates are the history columns every aggregating table shares.
func (s Schema) aggregates() string {
	t := s.Flavor.timeType()
	return fmt.Sprintf("time_first AggregateFunction(min, %s),\n    time_last AggregateFunction(max, %s),\n    count AggregateFunction(count)", t, t)
}

const aggregateStates = "minState(time) AS time_first, maxState(time) AS time_last, countState() AS count"

const AnswerJoin = "ARRAY JOIN answer.name AS rrname, answer.type AS rrtype, answer.data AS rdata"

// answerJoinTTL is AnswerJoin with each record's TTL.
const answerJoinTTL = AnswerJoin + ", answer.ttl AS ttl"

func (s Schema) createHistoryByName() []string {
	lc := s.Flavor.lowCardinality()
	return s.createTable("history_by_name", "rrname String,\n    rrtype "+lc+",\n    rdata String,\n    "+s.aggregates(),
		"AggregatingMergeTree", "\nORDER BY (reverse(rrname), rrtype, rdata)"+s.dedupWindow())
}

// The history selects read from, the table given: the materialized views read the rows
// inserted into the stored responses table; a backfill reads all of responses.

func (s Schema) historyByNameSelect(from string) string {
	return "SELECT rrname, rrtype, rdata, " + aggregateStates + "\nFROM " + from + "\n" + AnswerJoin +
		"\nGROUP BY rrname, rrtype, rdata"
}

// view creates the materialized view name that feeds the stored table to from what is
// inserted into responses; on a cluster every node has one over its local tables.
func (s Schema) view(name, to string, sel func(from string) string) string {
	return "CREATE MATERIALIZED VIEW IF NOT EXISTS " + s.Table(name) + s.onCluster() + " TO " + s.Store(to) +
		" AS\n" + sel(s.Store("responses"))
}

func (s Schema) historyByNameView() string {
	return s.view("history_by_name_mv", "history_by_name", s.historyByNameSelect)
}

// historyView is what users query: finalised values, one row per (rrname, rrtype, rdata).
func (s Schema) historyView() string {
	return "CREATE VIEW IF NOT EXISTS " + s.Table("history") + s.onCluster() + " AS\nSELECT rrname, rrtype, rdata, " +
		"minMerge(time_first) AS time_first, maxMerge(time_last) AS time_last, countMerge(count) AS count\nFROM " +
		s.Table("history_by_name") + "\nGROUP BY rrname, rrtype, rdata"
}

func (s Schema) createHistoryByIP() []string {
	lc := s.Flavor.lowCardinality()
	return s.createTable("history_by_ip", "ip "+s.Flavor.ipType()+",\n    rrname String,\n    rrtype "+lc+",\n    "+s.aggregates(),
		"AggregatingMergeTree", "\nORDER BY (ip, rrname, rrtype)"+s.dedupWindow())
}

func (s Schema) historyByIPSelect(from string) string {
	return "SELECT " + s.Flavor.ipExpr("rrtype", "rdata") + " AS ip, rrname, rrtype, " + aggregateStates +
		"\nFROM " + from + "\n" + AnswerJoin + "\nWHERE rrtype IN ('A', 'AAAA')\nGROUP BY ip, rrname, rrtype"
}

func (s Schema) historyByIPView() string {
	return s.view("history_by_ip_mv", "history_by_ip", s.historyByIPSelect)
}

func (s Schema) createHistoryByRdata() []string {
	lc := s.Flavor.lowCardinality()
	return s.createTable("history_by_rdata", "target String,\n    rrname String,\n    rrtype "+lc+",\n    rdata String,\n    "+s.aggregates(),
		"AggregatingMergeTree", "\nORDER BY (reverse(target), rrtype, rrname, rdata)"+s.dedupWindow())
}

func (s Schema) historyByRdataSelect(from string) string {
	return "SELECT " + targetExpr + " AS target, rrname, rrtype, rdata, " + aggregateStates +
		"\nFROM " + from + "\n" + AnswerJoin + "\nWHERE " + targetFilter + "\nGROUP BY target, rrname, rrtype, rdata"
}

func (s Schema) historyByRdataView() string {
	return s.view("history_by_rdata_mv", "history_by_rdata", s.historyByRdataSelect)
}

// backfill fills a table added by an upgrade from the responses recorded before its
// materialized view existed; rows after that reach the table through the view. The cut
// is the view's creation time as the server recorded it, so a migration that runs again
// after an interruption cuts at the same instant. On a cluster it reads every shard and
// writes through the Distributed table: history rows may land on any shard, which the
// reads (GROUP BY over the Distributed tables) merge anyway.
func (s Schema) backfill(table, view string, selectFrom func(from string) string) string {
	sel := selectFrom(s.Table("responses"))
	cut := fmt.Sprintf("time < (SELECT metadata_modification_time FROM system.tables WHERE database = '%s' AND name = '%s')", s.DB, view)
	if i := strings.Index(sel, "\nWHERE "); i >= 0 {
		sel = sel[:i] + "\nWHERE " + cut + " AND " + sel[i+len("\nWHERE "):]
	} else {
		i := strings.Index(sel, "\nGROUP BY")
		sel = sel[:i] + "\nWHERE " + cut + sel[i:]
	}
	return "INSERT INTO " + s.Table(table) + "\n" + sel
}

// SelectVersion reads the schema version of the database (0 for an empty table).
func (s Schema) SelectVersion() string {
	return "SELECT max(version) FROM " + s.Table("schema_version")
}

// InsertVersion records that a migration was applied; its parameters are the version
// (UInt32) and who applied it. INSERT ... SELECT: over the native protocol an INSERT with
// VALUES waits for client data blocks on older servers.
func (s Schema) InsertVersion() string {
	return "INSERT INTO " + s.Table("schema_version") + " (version, applied, by) SELECT ?, now(), ?"
}

// AlterRetention sets the TTL of responses to s.retention; modern flavor only.
func (s Schema) AlterRetention() string {
	return fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL toDateTime(time) + toIntervalHour(%d)", s.Store("responses"), s.onCluster(), int64(s.Retention/time.Hour))
}

// UnlandedQuery counts the rows of one batch on one day with one qname; its parameters
// are reverse(qname), the day (YYYY-MM-DD) and the batch id.
func (s Schema) UnlandedQuery() string {
	return "SELECT count() FROM " + s.Store("responses") +
		" WHERE reverse(qname) = ? AND toDate(time) = toDate(?) AND batch_id = ?"
}

// ResponseColumns lists the insert columns in the order batch columns are appended.
func (s Schema) ResponseColumns() []string {
	cols := []string{"time"}
	if !s.Flavor.Modern {
		cols = append(cols, "time_ms")
	}
	return append(cols, "sensor", "server", "transport", "client", "qname", "qtype", "qclass", "rcode", "flags",
		"answer.name", "answer.type", "answer.class", "answer.ttl", "answer.data",
		"authority.name", "authority.type", "authority.class", "authority.ttl", "authority.data",
		"size", "duration_us", "batch_id")
}

func (s Schema) InsertResponses() string {
	cols := s.ResponseColumns()
	for i, c := range cols {
		cols[i] = "`" + c + "`"
	}
	return "INSERT INTO " + s.Store("responses") + " (" + strings.Join(cols, ", ") + ")"
}

// IPText prints an ip column as text; IPParam converts bound text to the column type.
func (f Flavor) IPText(col string) string {
	if f.Modern {
		return "toString(" + col + ")"
	}
	return "IPv6NumToString(" + col + ")"
}

// IPParam is a bound parameter converted to the ip column's type.
func (f Flavor) IPParam() string {
	if f.Modern {
		return "toIPv6(?)"
	}
	return "IPv6StringToNum(?)"
}

// Version 3 keeps, per history tuple, the sensors that saw it and its smallest and
// largest TTL, in detail tables beside the aggregating tables (same key, own views),
// filled from the raw log for what was written before (backfill, cut at the view's
// creation as in version 2). Not new columns in the existing tables: 18.16 then wants
// every column from every view into them, and the old views would fail each insert
// until they were dropped and made again, losing what arrived in between. Tuples whose
// raw rows had already expired have no detail.
func (s Schema) detailStatements() []string {
	lc := s.Flavor.lowCardinality()
	var out []string
	for _, t := range []struct{ table, cols, order, key, where, group string }{
		{"history_detail_by_name", "rrname String,\n    rrtype " + lc + ",\n    rdata String", "reverse(rrname), rrtype, rdata",
			"rrname, rrtype, rdata", "", "rrname, rrtype, rdata"},
		{"history_detail_by_ip", "ip " + s.Flavor.ipType() + ",\n    rrname String,\n    rrtype " + lc, "ip, rrname, rrtype",
			s.Flavor.ipExpr("rrtype", "rdata") + " AS ip, rrname, rrtype", "rrtype IN ('A', 'AAAA')", "ip, rrname, rrtype"},
		{"history_detail_by_rdata", "target String,\n    rrname String,\n    rrtype " + lc + ",\n    rdata String", "reverse(target), rrtype, rrname, rdata",
			targetExpr + " AS target, rrname, rrtype, rdata", targetFilter, "target, rrname, rrtype, rdata"},
	} {
		t := t
		sel := func(from string) string {
			q := "SELECT " + t.key + ", " + detailStates + "\nFROM " + from + "\n" + answerJoinTTL
			if t.where != "" {
				q += "\nWHERE " + t.where
			}
			return q + "\nGROUP BY " + t.group
		}
		view := t.table + "_mv"
		out = append(out, s.createTable(t.table, t.cols+",\n    "+detailColumns, "AggregatingMergeTree", "\nORDER BY ("+t.order+")"+s.dedupWindow())...)
		out = append(out, s.view(view, t.table, sel), s.backfill(t.table, view, sel))
	}
	return out
}

// detailColumns are the aggregate states of a detail table. CAST in detailStates: the
// modern sensor column is LowCardinality, the state is of plain String.
const (
	detailColumns = "sensors AggregateFunction(groupUniqArray, String),\n    ttl_min AggregateFunction(min, UInt32),\n    ttl_max AggregateFunction(max, UInt32)"
	detailStates  = "groupUniqArrayState(CAST(sensor AS String)) AS sensors, minState(ttl) AS ttl_min, maxState(ttl) AS ttl_max"
)

// Version 4 keeps RRsets: all the records of one owner name and type in one answer,
// their data sorted (the same set served in another order is the same key), with the
// history of that exact set. A set that changes (an address added) is another row. The
// view groups each response's answer section by (name, type) itself: the records of the
// other history tables no longer know which answer they came from.
func (s Schema) rrsetStatements() []string {
	lc := s.Flavor.lowCardinality()
	sel := func(from string) string {
		return "SELECT " + RRsetColumns + ", " + aggregateStates + "\nFROM " + from + "\n" + RRsetJoin +
			"\nGROUP BY rrname, rrtype, rdata"
	}
	out := s.createTable("history_rrset", "rrname String,\n    rrtype "+lc+",\n    rdata Array(String),\n    "+s.aggregates(),
		"AggregatingMergeTree", "\nORDER BY (reverse(rrname), rrtype, rdata)"+s.dedupWindow())
	return append(out, s.view("history_rrset_mv", "history_rrset", sel), s.backfill("history_rrset", "history_rrset_mv", sel))
}

// RRsetJoin makes one row of each (name, type) of a response's answer section, and
// RRsetColumns its rrname, rrtype and rdata (the data of that name and type, sorted,
// each once). Tuples and lambdas that read the joined column: both run on 18.16. The
// lambdas' parameters have names of their own: on 18.16 a parameter named like an alias
// of the query (n for a count) is taken for that alias.
const (
	RRsetJoin    = "ARRAY JOIN arrayDistinct(arrayMap((rr_n, rr_t) -> (rr_n, rr_t), answer.name, answer.type)) AS rrset"
	RRsetColumns = "rrset.1 AS rrname, rrset.2 AS rrtype, " +
		"arraySort(arrayDistinct(arrayFilter((rr_d, rr_n, rr_t) -> rr_n = rrset.1 AND rr_t = rrset.2, answer.data, answer.name, answer.type))) AS rdata"
)
