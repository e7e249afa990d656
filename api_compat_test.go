package passivedns

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPIQueriesModern proves every kind of API query on ClickHouse 26.x (chDB) against
// the modern schema made by schema.migrations: the scenario's batches (as the sink wrote
// them to 18.16) are inserted there, each query is built for both flavors, and the rows
// must be the same on both servers. On 26.x, EXPLAIN shows that each query that should
// use its table's primary key does.
func TestAPIQueriesModern(t *testing.T) {
	r := recordScenario(t)
	sess := chdbSession(t)
	modern := schema{f: detectFlavor("26.5.1"), db: "pdns_api"}
	chdbEnsureSchema(t, sess, modern, 0, time.Now())
	for _, b := range r.clock.batches {
		chdbInsert(t, sess, modern, b)
	}
	db := &historyDB{cfg: r.cfg}
	t.Cleanup(db.close)
	ctx := context.Background()
	_, legacy, err := db.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := func(s string) nameSpec {
		n, err := parseName("name", s, true)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ip := func(s string) ipSpec {
		v, err := parseIP("ip", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		what string
		q    histQuery
		rows int
		pk   bool // must read by primary key
	}{
		{"name exact", histQuery{table: tableByName, name: name("evil.example.net"), limit: 10}, 2, true},
		{"name exact rrtypes", histQuery{table: tableByName, name: name("evil.example.net"), rrtypes: []string{"A", "AAAA"}, limit: 10}, 2, true},
		{"name suffix", histQuery{table: tableByName, name: name("*.wild.example.net"), limit: 10}, 3, true},
		{"name suffix after cursor", histQuery{table: tableByName, name: name("*.wild.example.net"),
			after: []string{reverseString("a.wild.example.net."), "A", "203.0.113.1"}, limit: 10}, 2, true},
		{"name prefix (scan)", histQuery{table: tableByName, name: name("b.wild.*"), limit: 10}, 1, false},
		{"name fences", histQuery{table: tableByName, name: name("evil.example.net"), firstAfter: 1793700001, lastBefore: 1793872800,
			firstBefore: 1793872800, lastAfter: 1793700000, limit: 10}, 1, true},
		{"name offset", histQuery{table: tableByName, name: name("evil.example.net"), offset: 1, limit: 10}, 1, true},
		{"names (bulk, pivot)", histQuery{table: tableByName, names: []string{"evil.example.net.", "shared.example.net.", "www.example.net."},
			rrtypes: []string{"A", "AAAA", "CNAME"}, limit: 10}, 4, true},
		{"names limited by name (bulk)", histQuery{table: tableByName, names: []string{"evil.example.net.", "shared.example.net."}, limitBy: 1, limit: 10}, 2, true},
		{"name bailiwick", histQuery{table: tableByName, name: name("evil.example.net"), under: "example.net.", limit: 10}, 2, true},
		{"ip single", histQuery{table: tableByIP, ip: ip("192.0.2.2"), limit: 10}, 2, true},
		{"ip prefix", histQuery{table: tableByIP, ip: ip("192.0.2.0/24"), limit: 10}, 3, true},
		{"ip prefix after cursor", histQuery{table: tableByIP, ip: ip("192.0.2.0/24"), after: []string{"::ffff:192.0.2.1", "evil.example.net.", "A"}, limit: 10}, 2, true},
		{"ip range", histQuery{table: tableByIP, ip: ip("203.0.113.1-203.0.113.2"), limit: 10}, 2, true},
		{"ipv6 prefix", histQuery{table: tableByIP, ip: ip("2001:db8::,32"), rrtypes: []string{"AAAA"}, limit: 10}, 1, true},
		{"ips limited by address (pivot)", histQuery{table: tableByIP, ips: []netip.Addr{ip("192.0.2.2").lo, ip("198.51.100.7").lo, ip("2001:db8::1").lo},
			limitBy: 1, limit: 10}, 3, true},
		{"ips (pivot)", histQuery{table: tableByIP, ips: []netip.Addr{ip("192.0.2.2").lo, ip("192.0.2.1").lo}, lastAfter: 1, limit: 10}, 3, true},
		{"ip window", histQuery{table: tableByIP, ip: ip("192.0.2.0/24"), lastAfter: 1793786400, firstBefore: 1793786400, limit: 10}, 1, true},
		{"rdata exact", histQuery{table: tableByRdata, name: name("cdn.example.net"), limit: 10}, 1, true},
		{"rdata suffix", histQuery{table: tableByRdata, name: name("*.example.net"), limit: 10}, 2, true},
		{"rdata names CNAME (aliases)", histQuery{table: tableByRdata, names: []string{"cdn.example.net."}, rrtypes: []string{"CNAME"}, limit: 10}, 1, true},
		{"rdata after cursor", histQuery{table: tableByRdata, name: name("*.example.net"),
			after: []string{reverseString("mail.example.net."), "MX", "example.net.", "10 mail.example.net."}, limit: 10}, 1, true},
		{"negative exact", histQuery{table: tableNegative, name: name("nx.example.net"), limit: 10}, 1, true},
		{"negative suffix window", histQuery{table: tableNegative, name: name("*.example.net"), lastAfter: 1793700000, firstBefore: 1793872800, limit: 10}, 2, true},
		{"negative after cursor", histQuery{table: tableNegative, name: name("*.example.net"),
			after: []string{reverseString("nodata.example.net."), "AAAA", "NOERROR"}, limit: 10}, 1, true},
		{"daily exact", histQuery{table: tableDaily, name: name("evil.example.net"), limit: 10}, 3, true},
		{"daily names and rdata (rdata lookups)", histQuery{table: tableDaily, names: []string{"evil.example.net.", "shared.example.net."},
			rdatas: []string{"192.0.2.2"}, rrtypes: []string{"A", "AAAA"}, limit: 10}, 3, true},
		{"daily suffix fenced", histQuery{table: tableDaily, name: name("*.wild.example.net"), rrtypes: []string{"A"}, lastAfter: 1, firstBefore: 1893456000, limit: 10}, 3, true},
	}
	for _, tc := range cases {
		var want []string
		err := db.run(ctx, tc.q, func(h histRow) bool { want = append(want, histTSV(tc.q.table, h)); return true })
		if err != nil {
			t.Errorf("%s on 18.16: %v", tc.what, err)
			continue
		}
		if len(want) != tc.rows {
			t.Errorf("%s on 18.16: %d rows, want %d:\n%s", tc.what, len(want), tc.rows, strings.Join(want, "\n"))
		}
		sql, args := tc.q.build(modern)
		bound := chdbBind(t, sql, args...)
		got := chdbExec(t, sess, bound)
		if got != strings.Join(want, "") {
			t.Errorf("%s: 26.x and 18.16 differ:\n26.x:\n%s18.16:\n%s\nSQL:\n%s", tc.what, got, strings.Join(want, ""), bound)
		}
		plan := chdbExec(t, sess, "EXPLAIN indexes = 1 "+bound)
		if usesKey := primaryKeyUsed(plan); usesKey != tc.pk {
			t.Errorf("%s: primary key used %v, want %v:\n%s", tc.what, usesKey, tc.pk, plan)
		}
		// The legacy SQL runs as is on 18.16 (above); its text differs only in the
		// address conversions.
		lsql, _ := tc.q.build(legacy)
		if strings.Count(lsql, "?") != len(args) {
			t.Errorf("%s: legacy SQL has another number of placeholders", tc.what)
		}
	}

	// As-of reads the raw log by (reverse(qname), time).
	for _, types := range [][]string{nil, {"A"}} {
		args := []any{reverseString("evil.example.net."), int64(1793872800), int64(1793700000)}
		if types != nil {
			args = append(args, groupSet(types))
		}
		args = append(args, asofRows)
		conn, _, _ := db.get(ctx)
		rows, err := conn.Query(ctx, asofQuery(legacy, types), args...)
		if err != nil {
			t.Fatalf("as-of on 18.16: %v", err)
		}
		var want []string
		for rows.Next() {
			var x asofRow
			if err := rows.Scan(&x.t, &x.ms, &x.qtype, &x.rcode, &x.names, &x.types, &x.ttls, &x.data, &x.authTypes, &x.authTTLs); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%d\t%d\t%s\t%s\t%s\n", x.t, x.ms, x.qtype, x.rcode, strings.Join(x.data, ",")))
		}
		rows.Close()
		bound := chdbBind(t, asofQuery(modern, types), args...)
		got := chdbExec(t, sess, "SELECT t, ms, qtype, rcode, arrayStringConcat(`answer.data`, ',') FROM ("+bound+")")
		if got != strings.Join(want, "") || len(want) != 4 {
			t.Errorf("as-of %v: 26.x\n%s18.16\n%s", types, got, strings.Join(want, ""))
		}
		if plan := chdbExec(t, sess, "EXPLAIN indexes = 1 "+bound); !primaryKeyUsed(plan) {
			t.Errorf("as-of does not use the primary key:\n%s", plan)
		}
	}
}

// histTSV prints a row as ClickHouse prints the query's columns in TSV.
func histTSV(t histTable, h histRow) string {
	cols := []string{h.rrname, h.rrtype, h.rdata}
	switch t {
	case tableByIP:
		cols[2] = h.ipText
	case tableByRdata:
		cols = append(cols, h.target)
	}
	cols = append(cols, strconv.Itoa(int(h.first)), strconv.Itoa(int(h.last)), strconv.FormatUint(h.count, 10))
	if t == tableDaily {
		cols = append(cols, strconv.Itoa(int(h.day)))
	}
	return strings.Join(cols, "\t") + "\n"
}

// primaryKeyUsed tells whether an EXPLAIN indexes = 1 plan narrows by the primary key.
func primaryKeyUsed(plan string) bool {
	i := strings.Index(plan, "PrimaryKey")
	if i < 0 {
		return false
	}
	rest := plan[i:]
	return strings.Contains(rest, "Keys:") && !strings.Contains(strings.SplitN(rest, "Granules", 2)[0], "Condition: true")
}
