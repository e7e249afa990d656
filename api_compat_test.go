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
	modern := SCHEMA__Schema{Flavor: SCHEMA__DetectFlavor("26.5.1"), DB: "pdns_api"}
	chdbEnsureSchema(t, sess, modern, 0, time.Now())
	for _, b := range r.clock.batches {
		chdbInsert(t, sess, modern, b)
	}
	db := &HISTORY__DB{Cfg: r.cfg}
	t.Cleanup(db.Close)
	ctx := context.Background()
	_, legacy, err := db.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := func(s string) HISTORY__NameSpec {
		n, err := PARAM__ParseName("name", s, true)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ip := func(s string) HISTORY__IPSpec {
		v, err := PARAM__ParseIP("ip", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		what string
		q    HISTORY__Query
		rows int
		pk   bool // must read by primary key
	}{
		{"name exact", HISTORY__Query{Table: HISTORY__TableByName, Name: name("evil.example.net"), Limit: 10}, 2, true},
		{"name exact rrtypes", HISTORY__Query{Table: HISTORY__TableByName, Name: name("evil.example.net"), RRTypes: []string{"A", "AAAA"}, Limit: 10}, 2, true},
		{"name suffix", HISTORY__Query{Table: HISTORY__TableByName, Name: name("*.wild.example.net"), Limit: 10}, 3, true},
		{"name suffix after cursor", HISTORY__Query{Table: HISTORY__TableByName, Name: name("*.wild.example.net"),
			After: []string{RECORD__Reverse("a.wild.example.net."), "A", "203.0.113.1"}, Limit: 10}, 2, true},
		{"name prefix (scan)", HISTORY__Query{Table: HISTORY__TableByName, Name: name("b.wild.*"), Limit: 10}, 1, false},
		{"name fences", HISTORY__Query{Table: HISTORY__TableByName, Name: name("evil.example.net"), FirstAfter: 1793700001, LastBefore: 1793872800,
			FirstBefore: 1793872800, LastAfter: 1793700000, Limit: 10}, 1, true},
		{"name offset", HISTORY__Query{Table: HISTORY__TableByName, Name: name("evil.example.net"), Offset: 1, Limit: 10}, 1, true},
		{"names (bulk, pivot)", HISTORY__Query{Table: HISTORY__TableByName, Names: []string{"evil.example.net.", "shared.example.net.", "www.example.net."},
			RRTypes: []string{"A", "AAAA", "CNAME"}, Limit: 10}, 4, true},
		{"names limited by name (bulk)", HISTORY__Query{Table: HISTORY__TableByName, Names: []string{"evil.example.net.", "shared.example.net."}, LimitBy: 1, Limit: 10}, 2, true},
		{"name bailiwick", HISTORY__Query{Table: HISTORY__TableByName, Name: name("evil.example.net"), Under: "example.net.", Limit: 10}, 2, true},
		{"ip single", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("192.0.2.2"), Limit: 10}, 2, true},
		{"ip prefix", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("192.0.2.0/24"), Limit: 10}, 3, true},
		{"ip prefix after cursor", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("192.0.2.0/24"), After: []string{"::ffff:192.0.2.1", "evil.example.net.", "A"}, Limit: 10}, 2, true},
		{"ip range", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("203.0.113.1-203.0.113.2"), Limit: 10}, 2, true},
		{"ipv6 prefix", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("2001:db8::,32"), RRTypes: []string{"AAAA"}, Limit: 10}, 1, true},
		{"ips limited by address (pivot)", HISTORY__Query{Table: HISTORY__TableByIP, IPs: []netip.Addr{ip("192.0.2.2").Lo, ip("198.51.100.7").Lo, ip("2001:db8::1").Lo},
			LimitBy: 1, Limit: 10}, 3, true},
		{"ips (pivot)", HISTORY__Query{Table: HISTORY__TableByIP, IPs: []netip.Addr{ip("192.0.2.2").Lo, ip("192.0.2.1").Lo}, LastAfter: 1, Limit: 10}, 3, true},
		{"ip window", HISTORY__Query{Table: HISTORY__TableByIP, IP: ip("192.0.2.0/24"), LastAfter: 1793786400, FirstBefore: 1793786400, Limit: 10}, 1, true},
		{"rdata exact", HISTORY__Query{Table: HISTORY__TableByRdata, Name: name("cdn.example.net"), Limit: 10}, 1, true},
		{"rdata suffix", HISTORY__Query{Table: HISTORY__TableByRdata, Name: name("*.example.net"), Limit: 10}, 2, true},
		{"rdata names CNAME (aliases)", HISTORY__Query{Table: HISTORY__TableByRdata, Names: []string{"cdn.example.net."}, RRTypes: []string{"CNAME"}, Limit: 10}, 1, true},
		{"rdata after cursor", HISTORY__Query{Table: HISTORY__TableByRdata, Name: name("*.example.net"),
			After: []string{RECORD__Reverse("mail.example.net."), "MX", "example.net.", "10 mail.example.net."}, Limit: 10}, 1, true},
		{"negative exact", HISTORY__Query{Table: HISTORY__TableNegative, Name: name("nx.example.net"), Limit: 10}, 1, true},
		{"negative suffix window", HISTORY__Query{Table: HISTORY__TableNegative, Name: name("*.example.net"), LastAfter: 1793700000, FirstBefore: 1793872800, Limit: 10}, 2, true},
		{"negative after cursor", HISTORY__Query{Table: HISTORY__TableNegative, Name: name("*.example.net"),
			After: []string{RECORD__Reverse("nodata.example.net."), "AAAA", "NOERROR"}, Limit: 10}, 1, true},
		{"daily exact", HISTORY__Query{Table: HISTORY__TableDaily, Name: name("evil.example.net"), Limit: 10}, 3, true},
		{"daily names and rdata (rdata lookups)", HISTORY__Query{Table: HISTORY__TableDaily, Names: []string{"evil.example.net.", "shared.example.net."},
			RDatas: []string{"192.0.2.2"}, RRTypes: []string{"A", "AAAA"}, Limit: 10}, 3, true},
		{"daily suffix fenced", HISTORY__Query{Table: HISTORY__TableDaily, Name: name("*.wild.example.net"), RRTypes: []string{"A"}, LastAfter: 1, FirstBefore: 1893456000, Limit: 10}, 3, true},
	}
	for _, tc := range cases {
		var want []string
		err := db.Run(ctx, tc.q, func(h HISTORY__Row) bool { want = append(want, histTSV(tc.q.Table, h)); return true })
		if err != nil {
			t.Errorf("%s on 18.16: %v", tc.what, err)
			continue
		}
		if len(want) != tc.rows {
			t.Errorf("%s on 18.16: %d rows, want %d:\n%s", tc.what, len(want), tc.rows, strings.Join(want, "\n"))
		}
		sql, args := tc.q.Build(modern)
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
		lsql, _ := tc.q.Build(legacy)
		if strings.Count(lsql, "?") != len(args) {
			t.Errorf("%s: legacy SQL has another number of placeholders", tc.what)
		}
	}

	// As-of reads the raw log by (reverse(qname), time).
	for _, types := range [][]string{nil, {"A"}} {
		args := []any{RECORD__Reverse("evil.example.net."), int64(1793872800), int64(1793700000)}
		if types != nil {
			args = append(args, HISTORY__GroupSet(types))
		}
		args = append(args, HTTPAPI__AsOfRows)
		conn, _, _ := db.Get(ctx)
		rows, err := conn.Query(ctx, HISTORY__AsOfQuery(legacy, types), args...)
		if err != nil {
			t.Fatalf("as-of on 18.16: %v", err)
		}
		var want []string
		for rows.Next() {
			var x HTTPAPI__AsOfRow
			if err := rows.Scan(&x.T, &x.Ms, &x.Qtype, &x.Rcode, &x.Names, &x.Types, &x.TTLs, &x.Data, &x.AuthTypes, &x.AuthTTLs); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%d\t%d\t%s\t%s\t%s\n", x.T, x.Ms, x.Qtype, x.Rcode, strings.Join(x.Data, ",")))
		}
		rows.Close()
		bound := chdbBind(t, HISTORY__AsOfQuery(modern, types), args...)
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
func histTSV(t HISTORY__Table, h HISTORY__Row) string {
	cols := []string{h.RRName, h.RRType, h.RData}
	switch t {
	case HISTORY__TableByIP:
		cols[2] = h.IPText
	case HISTORY__TableByRdata:
		cols = append(cols, h.Target)
	}
	cols = append(cols, strconv.Itoa(int(h.First)), strconv.Itoa(int(h.Last)), strconv.FormatUint(h.Count, 10))
	if t == HISTORY__TableDaily {
		cols = append(cols, strconv.Itoa(int(h.Day)))
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
