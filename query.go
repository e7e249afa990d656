package passivedns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The SQL of the history API. Every statement is built here from fixed text; request
// values only ever travel as driver-bound arguments ("?", bound client side by
// clickhouse-go, which ClickHouse 18.16 needs). Each lookup is a primary-key range:
// reverse(rrname) on history_by_name, ip on history_by_ip, reverse(target) on
// history_by_rdata, reverse(qname) and time on responses. The aggregating tables are
// queried directly with minMerge/maxMerge/countMerge: on 18.16 a view with GROUP BY is
// evaluated before an outer WHERE.

const (
	apiQueryTimeout = 10 * time.Second // max_execution_time of every API query
	apiDialTimeout  = time.Second      // ClickHouse down: 503 within about this
	apiMaxRows      = 1000000          // most rows any one query may return
)

// histTable is which aggregating table a history query reads.
type histTable int

const (
	tableByName histTable = iota
	tableByIP
	tableByRdata
	tableNegative // responses, aggregated per (qname, qtype, rcode)
	tableDaily    // responses with their answers, per day (DNSDB aggr=false)
)

// histQuery is one history lookup. Exactly one of name, ip or names (exact names, bulk)
// selects the rows.
type histQuery struct {
	table   histTable
	name    nameSpec
	ip      ipSpec
	names   []string // exact canonical names (tableByName, tableByRdata, tableDaily)
	rrtypes []string
	// under restricts rrname to this name or names below it (DNSDB bailiwick).
	under string
	// Time fences on the aggregated first and last times (epoch seconds); zero is unset.
	firstAfter, firstBefore, lastAfter, lastBefore int64
	after                                          []string // cursor: sort key of the last row returned
	offset, limit                                  int
	limitBy                                        int          // most rows per rrname (tableByName), 0: no bound
	rdatas                                         []string     // tableDaily: only these record data
	ips                                            []netip.Addr // tableByIP: these addresses (16-byte form) instead of ip
}

// fence copies q's time fences into o.
func (q histQuery) fence(o *histQuery) {
	o.firstAfter, o.firstBefore, o.lastAfter, o.lastBefore = q.firstAfter, q.firstBefore, q.lastAfter, q.lastBefore
}

// histRow is one result: a (rrname, rrtype, rdata) tuple with its history. For
// tableNegative rrname, rrtype and rdata hold the qname, qtype and rcode; for
// tableDaily day is the UTC day (epoch seconds) the counts are for.
type histRow struct {
	rrname, rrtype, rdata string
	first, last           uint32
	count                 uint64
	target                string // tableByRdata: the name the data points at
	ipText                string // tableByIP: the ip column as ClickHouse prints it
	day                   uint32
}

// key is the row's sort key, the cursor after it.
func (r histRow) key(t histTable) []string {
	switch t {
	case tableByIP:
		return []string{r.ipText, r.rrname, r.rrtype}
	case tableByRdata:
		return []string{reverseString(r.target), r.rrtype, r.rrname, r.rdata}
	}
	return []string{reverseString(r.rrname), r.rrtype, r.rdata}
}

func keyLen(t histTable) int {
	if t == tableByIP || t == tableByRdata {
		return 4 - btoi(t == tableByIP)
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
func (b *sqlBuilder) nameRange(col string, n nameSpec) {
	switch n.kind {
	case nameExact:
		b.cond("reverse("+col+") = ?", reverseString(n.name))
	case nameSuffix:
		lo := reverseString("." + n.name)
		b.cond("reverse("+col+") >= ? AND reverse("+col+") < ?", lo, successor(lo))
	case namePrefix:
		// No key serves a right-hand wildcard: this one scans (bounded by
		// max_execution_time).
		b.cond(col+" >= ? AND "+col+" < ?", n.name, successor(n.name))
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
		b.cond(col+" IN ?", groupSet(types))
	}
}

func groupSet(ss []string) clickhouse.GroupSet {
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
		return ipParam
	}
	return "?"
}

// ipParam is replaced by the flavor's address conversion in build.
const ipParam = "@IP(?)"

func (b *sqlBuilder) fences(q histQuery, first, last string) {
	if q.firstAfter != 0 {
		b.hcond(first+" >= ?", q.firstAfter)
	}
	if q.firstBefore != 0 {
		b.hcond(first+" <= ?", q.firstBefore)
	}
	if q.lastAfter != 0 {
		b.hcond(last+" >= ?", q.lastAfter)
	}
	if q.lastBefore != 0 {
		b.hcond(last+" <= ?", q.lastBefore)
	}
}

const mergedTimes = "toUInt32(minMerge(time_first)) AS tf, toUInt32(maxMerge(time_last)) AS tl, countMerge(count) AS n"

// build renders the query for schema s.
func (q histQuery) build(s schema) (string, []any) {
	var b sqlBuilder
	var sel, from, group, order string
	var keyExprs []string
	switch q.table {
	case tableByName:
		sel = "rrname, rrtype, rdata, " + mergedTimes
		from, group = s.table("history_by_name"), "rrname, rrtype, rdata"
		order = "reverse(rrname), rrtype, rdata"
		keyExprs = []string{"reverse(rrname)", "rrtype", "rdata"}
		if len(q.names) > 0 {
			b.cond("reverse(rrname) IN ?", groupSet(reverseAll(q.names)))
		} else {
			b.nameRange("rrname", q.name)
		}
		b.rrtypes("rrtype", q.rrtypes)
	case tableByIP:
		sel = "rrname, rrtype, " + s.f.ipText("ip") + " AS ipt, " + mergedTimes
		from, group = s.table("history_by_ip"), "ip, rrname, rrtype"
		order = "ip, rrname, rrtype"
		keyExprs = []string{"ip", "rrname", "rrtype"}
		if len(q.ips) > 0 {
			ph := make([]string, len(q.ips))
			args := make([]any, len(q.ips))
			for i, a := range q.ips {
				ph[i], args[i] = ipParam, a.String()
			}
			b.cond("ip IN ("+strings.Join(ph, ", ")+")", args...)
		} else if q.ip.single() {
			b.cond("ip = "+ipParam, q.ip.lo.String())
		} else {
			b.cond("ip >= "+ipParam+" AND ip <= "+ipParam, q.ip.lo.String(), q.ip.hi.String())
		}
		b.rrtypes("rrtype", q.rrtypes)
	case tableByRdata:
		sel = "rrname, rrtype, rdata, target, " + mergedTimes
		from, group = s.table("history_by_rdata"), "target, rrtype, rrname, rdata"
		order = "reverse(target), rrtype, rrname, rdata"
		keyExprs = []string{"reverse(target)", "rrtype", "rrname", "rdata"}
		if len(q.names) > 0 {
			b.cond("reverse(target) IN ?", groupSet(reverseAll(q.names)))
		} else {
			b.nameRange("target", q.name)
		}
		b.rrtypes("rrtype", q.rrtypes)
	case tableNegative:
		sel = "qname, qtype, rcode, toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n"
		from, group = s.table("responses"), "qname, qtype, rcode"
		order = "reverse(qname), qtype, rcode"
		keyExprs = []string{"reverse(qname)", "qtype", "rcode"}
		b.nameRange("qname", q.name)
		b.rrtypes("qtype", q.rrtypes)
		b.cond("(rcode = 'NXDOMAIN' OR rcode = 'NOERROR' AND length(answer.name) = 0)")
		// The raw log has the time in its key: fence it in WHERE as well.
		if q.lastAfter != 0 {
			b.cond("time >= toDateTime(?)", q.lastAfter)
		}
		if q.firstBefore != 0 {
			b.cond("time <= toDateTime(?)", q.firstBefore)
		}
	case tableDaily:
		sel = "rrname, rrtype, rdata, toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n, toUInt32(toDateTime(toDate(time))) AS day"
		from, group = s.table("responses")+"\n"+answerJoin, "rrname, rrtype, rdata, day"
		order = "reverse(rrname), rrtype, rdata, day"
		if len(q.names) > 0 {
			b.cond("reverse(qname) IN ?", groupSet(reverseAll(q.names)))
			b.cond("rrname IN ?", groupSet(q.names))
			if len(q.rdatas) > 0 {
				b.cond("rdata IN ?", groupSet(q.rdatas))
			}
		} else {
			b.nameRange("qname", q.name)
			switch q.name.kind {
			case nameExact:
				b.cond("rrname = ?", q.name.name)
			case nameSuffix:
				b.cond("endsWith(rrname, ?)", "."+q.name.name)
			case namePrefix:
				b.cond("rrname >= ? AND rrname < ?", q.name.name, successor(q.name.name))
			}
		}
		b.rrtypes("rrtype", q.rrtypes)
		if q.lastAfter != 0 {
			b.cond("time >= toDateTime(?)", q.lastAfter)
		}
		if q.firstBefore != 0 {
			b.cond("time <= toDateTime(?)", q.firstBefore)
		}
	}
	if q.under != "" {
		b.cond("(rrname = ? OR endsWith(rrname, ?))", q.under, "."+q.under)
	}
	if len(q.after) > 0 && keyExprs != nil {
		key := make([]any, len(q.after))
		for i, k := range q.after {
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
	if q.limitBy > 0 && (q.table == tableByName || q.table == tableByIP) {
		sql.WriteString("\nLIMIT ? BY " + map[histTable]string{tableByName: "rrname", tableByIP: "ip"}[q.table])
		args = append(args, q.limitBy)
	}
	limit := q.limit
	if limit <= 0 || limit > apiMaxRows+1 {
		limit = apiMaxRows + 1 // one more than any answer returns tells that it was cut
	}
	if q.offset > 0 {
		sql.WriteString("\nLIMIT ?, ?")
		args = append(args, q.offset, limit)
	} else {
		sql.WriteString("\nLIMIT ?")
		args = append(args, limit)
	}
	return strings.ReplaceAll(sql.String(), ipParam, s.f.ipParam()), args
}

func (f flavor) ipText(col string) string {
	if f.modern {
		return "toString(" + col + ")"
	}
	return "IPv6NumToString(" + col + ")"
}

func reverseAll(ss []string) []string {
	r := make([]string, len(ss))
	for i, s := range ss {
		r[i] = reverseString(s)
	}
	return r
}

// asofQuery reads the answers given for a name in (from, at], newest first.
func asofQuery(s schema, qtypes []string) string {
	var sql strings.Builder
	sql.WriteString("SELECT toUInt32(time) AS t, ")
	if s.f.modern {
		sql.WriteString("toUInt16(toUnixTimestamp64Milli(time) % 1000) AS ms, ")
	} else {
		sql.WriteString("time_ms AS ms, ")
	}
	sql.WriteString("qtype, rcode, answer.name, answer.type, answer.ttl, answer.data, authority.type, authority.ttl\nFROM " +
		s.table("responses") + "\nWHERE reverse(qname) = ? AND time <= toDateTime(?) AND time >= toDateTime(?)")
	if len(qtypes) > 0 {
		sql.WriteString(" AND qtype IN ?")
	}
	sql.WriteString("\nORDER BY t DESC, ms DESC\nLIMIT ?")
	return sql.String()
}

// historyDB is the API's own connection pool to ClickHouse, separate from the writer's
// so that slow analyst queries never hold up inserts.
type historyDB struct {
	cfg config

	mu       sync.Mutex
	conn     driver.Conn
	schema   *schema
	lastFail time.Time     // when the version check last failed: fail fast for a while
	timeout  time.Duration // of each query; 0: apiQueryTimeout
}

// retryAfterFail is how long after a failed connection the API answers 503 at once
// instead of trying again, so that queued requests do not each wait a dial timeout.
const retryAfterFail = time.Second

// errUnavailable means ClickHouse could not answer: a 503.
var errUnavailable = errors.New("ClickHouse is unavailable")

func (d *historyDB) get(ctx context.Context) (driver.Conn, schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		opts := *d.cfg.options
		opts.DialTimeout = apiDialTimeout
		opts.MaxOpenConns = apiMaxConcurrent + 2
		opts.MaxIdleConns = apiMaxConcurrent + 2
		opts.ReadTimeout = apiQueryTimeout + 5*time.Second
		opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{"coredns-passivedns-api", "1"})
		conn, err := clickhouse.Open(&opts)
		if err != nil {
			return nil, schema{}, fmt.Errorf("%w: %v", errUnavailable, err)
		}
		d.conn = conn
	}
	if d.schema == nil {
		if time.Since(d.lastFail) < retryAfterFail {
			return nil, schema{}, fmt.Errorf("%w: last attempt failed %v ago", errUnavailable, time.Since(d.lastFail).Round(time.Millisecond))
		}
		var version string
		ctx, cancel := context.WithTimeout(ctx, 2*apiDialTimeout)
		defer cancel()
		if err := d.conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
			d.lastFail = time.Now()
			return nil, schema{}, classifyQueryError(err)
		}
		d.schema = &schema{f: detectFlavor(version), db: d.cfg.database}
	}
	return d.conn, *d.schema, nil
}

func (d *historyDB) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
		d.conn, d.schema = nil, nil
	}
}

// queryContext bounds a query on the server (max_execution_time) and, a little later, on
// the client, which also covers a server that does not answer at all.
func (d *historyDB) queryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := d.timeout
	if timeout <= 0 {
		timeout = apiQueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+timeout/5)
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time": max(int(timeout/time.Second), 1),
		"max_result_rows":    apiMaxRows + 2,
	})), cancel
}

// classifyQueryError turns transport failures and timeouts into errUnavailable.
func classifyQueryError(err error) error {
	if err == nil {
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, 160, 209, 210, 202, // TIMEOUT_EXCEEDED, TOO_SLOW, SOCKET_TIMEOUT, NETWORK_ERROR, TOO_MANY_SIMULTANEOUS_QUERIES
			codeUnknownTable, codeUnknownDatabase: // no schema yet: the writer creates it
			return fmt.Errorf("%w: %v", errUnavailable, err)
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) || strings.Contains(err.Error(), "connection") {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return err
}

// run executes q and calls emit for each row, in order. It stops early (with nil) when
// emit returns false.
func (d *historyDB) run(ctx context.Context, q histQuery, emit func(histRow) bool) error {
	conn, s, err := d.get(ctx)
	if err != nil {
		return err
	}
	sql, args := q.build(s)
	ctx, cancel := d.queryContext(ctx)
	defer cancel()
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return classifyQueryError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r histRow
		var err error
		switch q.table {
		case tableByIP:
			err = rows.Scan(&r.rrname, &r.rrtype, &r.ipText, &r.first, &r.last, &r.count)
			if err == nil {
				r.rdata = ipRdata(r.ipText, r.rrtype)
			}
		case tableByRdata:
			err = rows.Scan(&r.rrname, &r.rrtype, &r.rdata, &r.target, &r.first, &r.last, &r.count)
		case tableDaily:
			err = rows.Scan(&r.rrname, &r.rrtype, &r.rdata, &r.first, &r.last, &r.count, &r.day)
		default:
			err = rows.Scan(&r.rrname, &r.rrtype, &r.rdata, &r.first, &r.last, &r.count)
		}
		if err != nil {
			return err
		}
		if !emit(r) {
			return nil
		}
	}
	return classifyQueryError(rows.Err())
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
