package history

import (
	"context"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/passivedns/passivedns/internal/schema"
)

// The detail of history rows (schema version 3): which sensors saw each tuple, and its
// smallest and largest TTL, read from the detail table beside the aggregating one by
// the keys of the rows of one page.

// detailTables maps an aggregating table to its detail table and key columns.
var detailTables = map[Table]struct{ table, cols, key string }{
	TableByName:  {"history_detail_by_name", "rrname, rrtype, rdata", "reverse(rrname)"},
	TableByIP:    {"history_detail_by_ip", "ip, rrname, rrtype", "ip"},
	TableByRdata: {"history_detail_by_rdata", "target, rrname, rrtype, rdata", "reverse(target)"},
}

// DetailQuery reads the detail of rows of table t: their first key column's values,
// then grouped by the whole key. The ip of history_by_ip comes back as text.
func DetailQuery(s schema.Schema, t Table, rows []Row) (string, []any) {
	d := detailTables[t]
	cols := d.cols
	seen := map[string]bool{}
	var keys []string
	var ph []string
	var args []any
	for _, r := range rows {
		k := r.Key(t)[0]
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		if t == TableByIP {
			ph, args = append(ph, s.Flavor.IPParam()), append(args, k)
		}
	}
	sel := cols
	if t == TableByIP {
		sel = s.Flavor.IPText("ip") + " AS ipt, rrname, rrtype"
	}
	cond := d.key + " IN ?"
	if t == TableByIP {
		cond = "ip IN (" + strings.Join(ph, ", ") + ")"
	} else {
		args = []any{GroupSet(keys)}
	}
	return "SELECT " + sel + ", groupUniqArrayMerge(sensors) AS s, toUInt32(minMerge(ttl_min)) AS tmin, toUInt32(maxMerge(ttl_max)) AS tmax\nFROM " +
		s.Table(d.table) + "\nWHERE " + cond + "\nGROUP BY " + cols, args
}

// detailKey is the whole key of a row as the detail query returns it.
func detailKey(t Table, r Row) string {
	switch t {
	case TableByIP:
		return r.IPText + "\x00" + r.RRName + "\x00" + r.RRType
	case TableByRdata:
		return r.Target + "\x00" + r.RRName + "\x00" + r.RRType + "\x00" + r.RData
	}
	return r.RRName + "\x00" + r.RRType + "\x00" + r.RData
}

// fillDetail sets the detail of rows in place.
func (d *DB) fillDetail(ctx context.Context, t Table, rows []Row) error {
	if _, ok := detailTables[t]; !ok || len(rows) == 0 {
		return nil
	}
	conn, s, err := d.Get(ctx)
	if err != nil {
		return err
	}
	sql, args := DetailQuery(s, t, rows)
	type detail struct {
		sensors    []string
		tmin, tmax uint32
	}
	found := map[string]detail{}
	err = d.query(ctx, conn, sql, args, func(res driver.Rows) (bool, error) {
		var r Row
		var x detail
		var err error
		switch t {
		case TableByIP:
			err = res.Scan(&r.IPText, &r.RRName, &r.RRType, &x.sensors, &x.tmin, &x.tmax)
		case TableByRdata:
			err = res.Scan(&r.Target, &r.RRName, &r.RRType, &r.RData, &x.sensors, &x.tmin, &x.tmax)
		default:
			err = res.Scan(&r.RRName, &r.RRType, &r.RData, &x.sensors, &x.tmin, &x.tmax)
		}
		if err != nil {
			return false, err
		}
		found[detailKey(t, r)] = x
		return true, nil
	})
	if err != nil {
		return err
	}
	for i := range rows {
		if x, ok := found[detailKey(t, rows[i])]; ok && len(x.sensors) > 0 {
			sort.Strings(x.sensors)
			rows[i].Sensors, rows[i].TTLMin, rows[i].TTLMax = x.sensors, x.tmin, x.tmax
		}
	}
	return nil
}
