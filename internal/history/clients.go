package history

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
)

// Who asked: the clients in the raw log (responses.client), which holds them only with
// clients prefix or full. By name, the lookup is a primary-key range (reverse(qname),
// time); by client it scans the partitions of its time window, bounded by
// max_execution_time like every query.

// ClientsQuery selects raw answers by name (Name) or by client (ByClient, Client).
type ClientsQuery struct {
	ByClient bool
	Name     NameSpec
	Client   IPSpec // 16-byte form
	QTypes   []string
	From, To int64    // epoch seconds, inclusive; zero: unset
	After    []string // cursor: the key of the last row returned
	Limit    int
}

// ClientRow is one (client, qname) pair with when and how often it was answered.
type ClientRow struct {
	ClientText  string // as ClickHouse prints it (the cursor key)
	Client      string // as an analyst writes it (IPv4 unmapped)
	QName       string
	QTypes      []string
	First, Last uint32
	Count       uint64
}

// Key is the row's sort key, the cursor after it.
func (r ClientRow) Key(byClient bool) []string {
	if byClient {
		return []string{record.Reverse(r.QName), r.ClientText}
	}
	return []string{r.ClientText, record.Reverse(r.QName)}
}

// ClientsKeyLen is the length of a ClientRow key.
const ClientsKeyLen = 2

// Build renders the query for schema s.
func (q ClientsQuery) Build(s schema.Schema) (string, []any) {
	var b sqlBuilder
	var keyExprs []string
	if q.ByClient {
		if q.Client.single() {
			b.cond("client = "+ipPlaceholder, q.Client.Lo.String())
		} else {
			b.cond("client >= "+ipPlaceholder+" AND client <= "+ipPlaceholder, q.Client.Lo.String(), q.Client.Hi.String())
		}
		keyExprs = []string{"reverse(qname)", "client"}
	} else {
		b.nameRange("qname", q.Name)
		keyExprs = []string{"client", "reverse(qname)"}
	}
	// With clients off every row holds ::, which is nobody.
	b.cond("client != "+ipPlaceholder, "::")
	if q.From != 0 {
		b.cond("time >= toDateTime(?)", q.From)
	}
	if q.To != 0 {
		b.cond("time < toDateTime(?)", q.To+1)
	}
	b.rrtypes("qtype", q.QTypes)
	if len(q.After) == len(keyExprs) {
		var parts []string
		var args []any
		ph := func(e string) string {
			if e == "client" {
				return ipPlaceholder
			}
			return "?"
		}
		parts = append(parts, keyExprs[0]+" > "+ph(keyExprs[0]))
		args = append(args, q.After[0])
		parts = append(parts, keyExprs[0]+" = "+ph(keyExprs[0])+" AND "+keyExprs[1]+" > "+ph(keyExprs[1]))
		args = append(args, q.After[0], q.After[1])
		b.cond("("+strings.Join(parts, " OR ")+")", args...)
	}
	limit := q.Limit
	if limit <= 0 || limit > apiMaxRows+1 {
		limit = apiMaxRows + 1
	}
	sql := "SELECT " + s.Flavor.IPText("client") + " AS c, qname, groupUniqArray(qtype) AS qtypes, " +
		"toUInt32(min(time)) AS tf, toUInt32(max(time)) AS tl, count() AS n\nFROM " + s.Table("responses") +
		"\nWHERE " + strings.Join(b.where, " AND ") +
		"\nGROUP BY client, qname\nORDER BY " + strings.Join(keyExprs, ", ") + "\nLIMIT ?"
	args := append(b.args, limit)
	return strings.ReplaceAll(sql, ipPlaceholder, s.Flavor.IPParam()), args
}

// Clients runs q and calls emit for each row, in order.
func (d *DB) Clients(ctx context.Context, q ClientsQuery, emit func(ClientRow)) error {
	conn, s, err := d.Get(ctx)
	if err != nil {
		return err
	}
	sql, args := q.Build(s)
	return d.query(ctx, conn, sql, args, func(rows driver.Rows) (bool, error) {
		var r ClientRow
		if err := rows.Scan(&r.ClientText, &r.QName, &r.QTypes, &r.First, &r.Last, &r.Count); err != nil {
			return false, err
		}
		sort.Strings(r.QTypes) // groupUniqArray has no order
		r.Client = r.ClientText
		if a, err := netip.ParseAddr(r.ClientText); err == nil {
			r.Client = a.Unmap().String()
		}
		emit(r)
		return true, nil
	})
}
