package history

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"

	"net/netip"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// The SQL of the history API. Every statement is built here from fixed text; request
// values only ever travel as driver-bound arguments ("?", bound client side by
// clickhouse-go, which ClickHouse 18.16 needs). Each lookup is a primary-key range:
// reverse(rrname) on history_by_name and history_rrset, ip on history_by_ip,
// reverse(target) on history_by_rdata, reverse(qname) and time on responses. The aggregating tables are
// queried directly with minMerge/maxMerge/countMerge: on 18.16 a view with GROUP BY is
// evaluated before an outer WHERE.

const (
	QueryTimeout   = 10 * time.Second // max_execution_time of every API query
	apiDialTimeout = time.Second      // ClickHouse down: 503 within about this
	apiMaxRows     = 1000000          // most rows any one query may return
)

// Table is which aggregating table a history query reads.
type Table int

const (
	TableByName Table = iota
	TableByIP
	TableByRdata
	TableNegative   // responses, aggregated per (qname, qtype, rcode)
	TableDaily      // responses with their answers, per day (DNSDB aggr=false)
	TableRRset      // history_rrset: RRsets as served, rdata in Row.RDatas (DNSDB rrset lookups)
	TableRRsetDaily // responses with their answers' RRsets, per day (DNSDB rrset, aggr=false)
)

// Query is one history lookup. Exactly one of name, ip or names (exact names, bulk)
// selects the rows.
type Query struct {
	Table   Table
	Name    NameSpec
	IP      IPSpec
	Names   []string // exact canonical names (tableByName, tableByRdata, tableDaily)
	RRTypes []string
	// under restricts rrname to this name or names below it (DNSDB bailiwick).
	Under string
	// Time fences on the aggregated first and last times (epoch seconds); zero is unset.
	FirstAfter, FirstBefore, LastAfter, LastBefore int64
	After                                          []string // cursor: sort key of the last row returned
	Offset, Limit                                  int
	LimitBy                                        int                 // most rows per rrname (tableByName), 0: no bound
	RDatas                                         []string            // tableDaily: only these record data
	RDataOf                                        map[string][]string // tableDaily, RunChunked: the record data of each name
	IPs                                            []netip.Addr        // tableByIP: these addresses (16-byte form) instead of ip
	// AllNames: no name condition at all (what is new anywhere); scans the table.
	AllNames bool
	// Sensors keeps the tuples seen by any of these sensors (times and counts stay those
	// of all sensors: the history tables keep no per-sensor times).
	Sensors []string
	// Detail fills each row's sensors and TTLs from the detail tables (a second query
	// over the page's keys).
	Detail bool
}

// Fence copies q's time fences and sensor filter into o: the queries a pivot or the
// aliases of a page make keep to the window and sensors of the request.
func (q Query) Fence(o *Query) {
	o.FirstAfter, o.FirstBefore, o.LastAfter, o.LastBefore = q.FirstAfter, q.FirstBefore, q.LastAfter, q.LastBefore
	o.Sensors = q.Sensors
}

// Row is one result: a (rrname, rrtype, rdata) tuple with its history. For
// tableNegative rrname, rrtype and rdata hold the qname, qtype and rcode; for
// tableDaily day is the UTC day (epoch seconds) the counts are for.
type Row struct {
	RRName, RRType, RData string
	First, Last           uint32
	Count                 uint64
	Target                string // tableByRdata: the name the data points at
	IPText                string // tableByIP: the ip column as ClickHouse prints it
	Day                   uint32
	// TableRRset, TableRRsetDaily: the data of the RRset, sorted (RData is empty).
	RDatas []string
	// Detail (Query.Detail): the sensors that saw the tuple, sorted, and its smallest
	// and largest TTL. Empty sensors: no detail (recorded before schema version 3 and
	// its raw rows expired before the upgrade). TableNegative has sensors too.
	Sensors        []string
	TTLMin, TTLMax uint32
	// TableNegative: the SOA of the newest negative answer of the group, if it had one.
	SOAName, SOAData string
	SOATTL           uint32
}

// Negative labels a TableNegative row: NXDOMAIN, or NODATA (NOERROR with no answer).
func (r Row) Negative() string {
	if r.RData == "NOERROR" {
		return "NODATA"
	}
	return r.RData
}

// Key is the row's sort key, the cursor after it.
func (r Row) Key(t Table) []string {
	switch t {
	case TableByIP:
		return []string{r.IPText, r.RRName, r.RRType}
	case TableByRdata:
		return []string{record.Reverse(r.Target), r.RRType, r.RRName, r.RData}
	}
	return []string{record.Reverse(r.RRName), r.RRType, r.RData}
}

// ValidKey tells whether key can be the sort key of a row of t: a cursor is only
// fingerprinted, not signed, so its fields are checked (an address must parse: ClickHouse
// would read garbage as ::, and paging would silently start again).
func ValidKey(t Table, key []string) bool {
	if len(key) != KeyLen(t) {
		return false
	}
	if t == TableByIP {
		a, err := netip.ParseAddr(key[0])
		return err == nil && a.Zone() == "" && key[2] != ""
	}
	return key[1] != ""
}

func KeyLen(t Table) int {
	if t == TableByIP || t == TableByRdata {
		return 4 - btoi(t == TableByIP)
	}
	return 3
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sqlBuilder collects conditions and their arguments.
type sqlBuilder struct {
	where, having []string
	args, hargs   []any
}

func (b *sqlBuilder) cond(c string, args ...any) {
	b.where = append(b.where, c)
	b.args = append(b.args, args...)
}

func (b *sqlBuilder) hcond(c string, args ...any) {
	b.having = append(b.having, c)
	b.hargs = append(b.hargs, args...)
}

// nameRange adds the condition for a name spec on column col, whose reversed form is
// the primary key for exact and suffix matches.
func (b *sqlBuilder) nameRange(col string, n NameSpec) {
	switch n.Kind {
	case NameExact:
		b.cond("reverse("+col+") = ?", record.Reverse(n.Name))
	case NameSuffix:
		lo := record.Reverse("." + n.Name)
		b.cond("reverse("+col+") >= ? AND reverse("+col+") < ?", lo, successor(lo))
	case NamePrefix:
		// No key serves a right-hand wildcard: this one scans (bounded by
		// max_execution_time).
		b.cond(col+" >= ? AND "+col+" < ?", n.Name, successor(n.Name))
	}
}

// successor is the smallest string greater than every string that starts with s.
func successor(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return s + "\xff" // not reached for names
}

func (b *sqlBuilder) rrtypes(col string, types []string) {
	if len(types) > 0 {
		b.cond(col+" IN ?", GroupSet(types))
	}
}

func GroupSet(ss []string) clickhouse.GroupSet {
	v := make([]any, len(ss))
	for i, s := range ss {
		v[i] = s
	}
	return clickhouse.GroupSet{Value: v}
}

// after adds a keyset condition: the tuple of exprs is greater than key. Written out
// as ORs because 18.16 has no tuple comparison in key analysis.
func (b *sqlBuilder) after(exprs []string, key []any) {
	if len(key) == 0 {
		return
	}
	var parts []string
	var args []any
	for i := range exprs {
		var eq []string
		for j := 0; j < i; j++ {
			eq = append(eq, exprs[j]+" = "+placeholder(exprs[j]))
			args = append(args, key[j])
		}
		eq = append(eq, exprs[i]+" > "+placeholder(exprs[i]))
		args = append(args, key[i])
		parts = append(parts, "("+strings.Join(eq, " AND ")+")")
	}
	b.cond("("+strings.Join(parts, " OR ")+")", args...)
}

// placeholder is "?" wrapped in the conversion an ip column needs.
func placeholder(expr string) string {
	if expr == "ip" {
		return ipPlaceholder
	}
	return "?"
}

// ipPlaceholder is replaced by the flavor's address conversion in build.
const ipPlaceholder = "@IP(?)"

func (b *sqlBuilder) fences(q Query, first, last string) {
	if q.FirstAfter != 0 {
		b.hcond(first+" >= ?", q.FirstAfter)
	}
	if q.FirstBefore != 0 {
		b.hcond(first+" <= ?", q.FirstBefore)
	}
	if q.LastAfter != 0 {
		b.hcond(last+" >= ?", q.LastAfter)
	}
	if q.LastBefore != 0 {
		b.hcond(last+" <= ?", q.LastBefore)
	}
}

// negativeSOA is the SOA of the newest answer of a negative group (” and 0 without
// one: indexOf gives 0, and [0] of an array its default).
const negativeSOA = "argMax(authority.name[indexOf(authority.type, 'SOA')], time) AS soa_name, " +
	"argMax(authority.ttl[indexOf(authority.type, 'SOA')], time) AS soa_ttl, " +
	"argMax(authority.data[indexOf(authority.type, 'SOA')], time) AS soa_data"

// sensors keeps the tuples of the aggregating table whose detail table (same key
// columns, cols) lists any of the sensors. The subquery repeats the conditions so far
// (the key range and types), so it reads the detail table by its key as well.
func (b *sqlBuilder) sensors(s schema.Schema, sensors []string, detail, cols string) {
	if len(sensors) == 0 {
		return
	}
	sub := "SELECT " + cols + " FROM " + s.Table(detail)
	if len(b.where) > 0 {
		sub += " WHERE " + strings.Join(b.where, " AND ")
	}
	sub += " GROUP BY " + cols + " HAVING hasAny(groupUniqArrayMerge(sensors), ?)"
	args := append(append([]any{}, b.args...), sensors)
	in := " IN "
	if s.Cluster != "" {
		// Both tables are Distributed there: a plain IN would be a double-distributed
		// subquery, which ClickHouse refuses by default.
		in = " GLOBAL IN "
	}
	b.cond("("+cols+")"+in+"("+sub+")", args...)
}

const mergedTimes = "toUInt32(minMerge(time_first)) AS tf, toUInt32(maxMerge(time_last)) AS tl, countMerge(count) AS n"

// Build renders the query for schema s.
func (q Query) Build(s schema.Schema) (string, []any) {
	var b sqlBuilder
	var sel, from, group, order string
	var keyExprs []string
	switch q.Table {
	case TableByName:
		sel = "rrname, rrtype, rdata, " + mergedTimes
		from, group = s.Table("history_by_name"), "rrname, rrtype, rdata"
		order = "reverse(rrname), rrtype, rdata"
		keyExprs = []string{"reverse(rrname)", "rrtype", "rdata"}
		if len(q.Names) > 0 {
			b.cond("reverse(rrname) IN ?", GroupSet(reverseAll(q.Names)))
		} else if !q.AllNames {
			b.nameRange("rrname", q.Name)
		}
		b.rrtypes("rrtype", q.RRTypes)
		b.sensors(s, q.Sensors, "history_detail_by_name", "rrname, rrtype, rdata")
	case TableByIP:
		sel = "rrname, rrtype, " + s.Flavor.IPText("ip") + " AS ipt, " + mergedTimes
		from, group = s.Table("history_by_ip"), "ip, rrname, rrtype"
		order = "ip, rrname, rrtype"
		keyExprs = []string{"ip", "rrname", "rrtype"}
		if len(q.IPs) > 0 {
			ph := make([]string, len(q.IPs))
			args := make([]any, len(q.IPs))
			for i, a := range q.IPs {
				ph[i], args[i] = ipPlaceholder, a.String()
			}
			b.cond("ip IN ("+strings.Join(ph, ", ")+")", args...)
		} else if q.IP.single() {
			b.cond("ip = "+ipPlaceholder, q.IP.Lo.String())
		} else {
			b.cond("ip >= "+ipPlaceholder+" AND ip <= "+ipPlaceholder, q.IP.Lo.String(), q.IP.Hi.String())
		}
		b.rrtypes("rrtype", q.RRTypes)
		b.sensors(s, q.Sensors, "history_detail_by_ip", "ip, rrname, rrtype")
	case TableByRdata:
		sel = "rrname, rrtype, rdata, target, " + mergedTimes
		from, group = s.Table("history_by_rdata"), "target, rrtype, rrname, rdata"
		order = "reverse(target), rrtype, rrname, rdata"
		keyExprs = []string{"reverse(target)", "rrtype", "rrname", "rdata"}
		if len(q.Names) > 0 {
			b.cond("reverse(target) IN ?", GroupSet(reverseAll(q.Names)))
		} else {
			b.nameRange("target", q.Name)
		}
		b.rrtypes("rrtype", q.RRTypes)
		b.sensors(s, q.Sensors, "history_detail_by_rdata", "target, rrname, rrtype, rdata")
	case TableNegative:
		sel = "qname, qtype, rcode, toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n, " +
			"groupUniqArray(CAST(sensor AS String)) AS sensors, " + negativeSOA
		from, group = s.Table("responses"), "qname, qtype, rcode"
		order = "reverse(qname), qtype, rcode"
		keyExprs = []string{"reverse(qname)", "qtype", "rcode"}
		b.nameRange("qname", q.Name)
		b.rrtypes("qtype", q.RRTypes)
		b.cond("(rcode = 'NXDOMAIN' OR rcode = 'NOERROR' AND length(answer.name) = 0)")
		if len(q.Sensors) > 0 {
			b.cond("sensor IN ?", GroupSet(q.Sensors))
		}
		// The raw log has the time in its key: fence it in WHERE as well.
		if q.LastAfter != 0 {
			b.cond("time >= toDateTime(?)", q.LastAfter)
		}
		if q.FirstBefore != 0 {
			b.cond("time <= toDateTime(?)", q.FirstBefore)
		}
	case TableRRset:
		// Only what DNSDB asks: a name spec and types, pages by offset (no cursor, no
		// names list); sensors are not kept per RRset.
		sel = "rrname, rrtype, rdata, " + mergedTimes
		from, group = s.Table("history_rrset"), "rrname, rrtype, rdata"
		order = "reverse(rrname), rrtype, rdata"
		b.nameRange("rrname", q.Name)
		b.rrtypes("rrtype", q.RRTypes)
	case TableDaily, TableRRsetDaily:
		sel = "rrname, rrtype, rdata, toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n, toUInt32(toDateTime(toDate(time))) AS day"
		from, group = s.Table("responses")+"\n"+schema.AnswerJoin, "rrname, rrtype, rdata, day"
		if q.Table == TableRRsetDaily {
			// The RRsets of each answer, grouped as the view of history_rrset does.
			sel = schema.RRsetColumns + ", toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n, toUInt32(toDateTime(toDate(time))) AS day"
			from = s.Table("responses") + "\n" + schema.RRsetJoin
		}
		order = "reverse(rrname), rrtype, rdata, day"
		if len(q.Names) > 0 {
			b.cond("reverse(qname) IN ?", GroupSet(reverseAll(q.Names)))
			b.cond("rrname IN ?", GroupSet(q.Names))
			if q.RDatas != nil {
				b.cond("rdata IN ?", GroupSet(q.RDatas))
			}
		} else {
			b.nameRange("qname", q.Name)
			switch q.Name.Kind {
			case NameExact:
				b.cond("rrname = ?", q.Name.Name)
			case NameSuffix:
				b.cond("endsWith(rrname, ?)", "."+q.Name.Name)
			case NamePrefix:
				b.cond("rrname >= ? AND rrname < ?", q.Name.Name, successor(q.Name.Name))
			}
		}
		b.rrtypes("rrtype", q.RRTypes)
		if len(q.Sensors) > 0 {
			b.cond("sensor IN ?", GroupSet(q.Sensors))
		}
		if q.LastAfter != 0 {
			b.cond("time >= toDateTime(?)", q.LastAfter)
		}
		if q.FirstBefore != 0 {
			b.cond("time <= toDateTime(?)", q.FirstBefore)
		}
	}
	if q.Under != "" {
		b.cond("(rrname = ? OR endsWith(rrname, ?))", q.Under, "."+q.Under)
	}
	if len(q.After) > 0 && keyExprs != nil {
		key := make([]any, len(q.After))
		for i, k := range q.After {
			key[i] = k
		}
		b.after(keyExprs, key)
	}
	b.fences(q, "tf", "tl")
	var sql strings.Builder
	sql.WriteString("SELECT " + sel + "\nFROM " + from)
	if len(b.where) > 0 {
		sql.WriteString("\nWHERE " + strings.Join(b.where, " AND "))
	}
	sql.WriteString("\nGROUP BY " + group)
	if len(b.having) > 0 {
		sql.WriteString("\nHAVING " + strings.Join(b.having, " AND "))
	}
	sql.WriteString("\nORDER BY " + order)
	args := append(b.args, b.hargs...)
	if q.LimitBy > 0 && (q.Table == TableByName || q.Table == TableByIP) {
		sql.WriteString("\nLIMIT ? BY " + map[Table]string{TableByName: "rrname", TableByIP: "ip"}[q.Table])
		args = append(args, q.LimitBy)
	}
	limit := q.Limit
	if limit <= 0 || limit > apiMaxRows+1 {
		limit = apiMaxRows + 1 // one more than any answer returns tells that it was cut
	}
	if q.Offset > 0 {
		sql.WriteString("\nLIMIT ?, ?")
		args = append(args, q.Offset, limit)
	} else {
		sql.WriteString("\nLIMIT ?")
		args = append(args, limit)
	}
	return strings.ReplaceAll(sql.String(), ipPlaceholder, s.Flavor.IPParam()), args
}

func reverseAll(ss []string) []string {
	r := make([]string, len(ss))
	for i, s := range ss {
		r[i] = record.Reverse(s)
	}
	return r
}

// AsOfQuery reads the answers given for a name in (from, at], newest first.
func AsOfQuery(s schema.Schema, qtypes []string) string { return AsOfQueryBy(s, qtypes, false) }

// AsOfQueryBy is AsOfQuery with, when bySensor, one more parameter after the types: the
// sensors whose answers count.
func AsOfQueryBy(s schema.Schema, qtypes []string, bySensor bool) string {
	var sql strings.Builder
	sql.WriteString("SELECT toUInt32(time) AS t, ")
	if s.Flavor.Modern {
		sql.WriteString("toUInt16(toUnixTimestamp64Milli(time) % 1000) AS ms, ")
	} else {
		sql.WriteString("time_ms AS ms, ")
	}
	sql.WriteString("qtype, rcode, answer.name, answer.type, answer.ttl, answer.data, authority.type, authority.ttl\nFROM " +
		s.Table("responses") + "\nWHERE reverse(qname) = ? AND time <= toDateTime(?) AND time >= toDateTime(?)")
	if len(qtypes) > 0 {
		sql.WriteString(" AND qtype IN ?")
	}
	if bySensor {
		sql.WriteString(" AND sensor IN ?")
	}
	sql.WriteString("\nORDER BY t DESC, ms DESC\nLIMIT ?")
	return sql.String()
}

// ipRdata is the record data of an A or AAAA record whose address ClickHouse printed
// as IPv6 text (A records are stored IPv4-mapped).
func ipRdata(text, rrtype string) string {
	a, err := netip.ParseAddr(text)
	if err != nil {
		return text
	}
	if rrtype == "A" {
		return a.Unmap().String()
	}
	return a.String()
}
