package history_test

import (
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/history/historytest"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"

	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestQueriesModern proves every kind of history query on ClickHouse 26.x (chDB) against
// the modern schema made by the schema's migrations: the scenario's batches go there and
// to clickhouse-server (18.16 unless PASSIVEDNS_TEST_CLICKHOUSE names another), each query
// is built for both flavors, and the rows must be the same on both servers. On 26.x, EXPLAIN shows that each query that should
// use its table's primary key does.
func TestQueriesModern(t *testing.T) {
	legacyDB, batches := fillScenario(t)
	sess := chdbtest.ForTest(t)
	modern := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_api"}
	chdbtest.EnsureSchema(t, sess, modern, 0)
	for _, b := range batches {
		recordtest.Insert(t, sess, modern, b)
	}
	opts, err := clickhouse.ParseDSN(testCH.DSN(legacyDB))
	if err != nil {
		t.Fatal(err)
	}
	opts.Auth.Database = ""
	db := history.New(history.Options{ClickHouse: opts, Database: legacyDB, MaxConcurrent: 1})
	t.Cleanup(db.Close)
	ctx := context.Background()
	_, legacy, err := db.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := func(s string) history.NameSpec {
		n, err := param.ParseName("name", s, true)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ip := func(s string) history.IPSpec {
		v, err := param.ParseIP("ip", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		what string
		q    history.Query
		rows int
		pk   bool // must read by primary key
	}{
		{"name exact", history.Query{Table: history.TableByName, Name: name("evil.example.net"), Limit: 10}, 2, true},
		{"name exact rrtypes", history.Query{Table: history.TableByName, Name: name("evil.example.net"), RRTypes: []string{"A", "AAAA"}, Limit: 10}, 2, true},
		{"name suffix", history.Query{Table: history.TableByName, Name: name("*.wild.example.net"), Limit: 10}, 3, true},
		{"name suffix after cursor", history.Query{Table: history.TableByName, Name: name("*.wild.example.net"),
			After: []string{record.Reverse("a.wild.example.net."), "A", "203.0.113.1"}, Limit: 10}, 2, true},
		{"name prefix (scan)", history.Query{Table: history.TableByName, Name: name("b.wild.*"), Limit: 10}, 1, false},
		{"name fences", history.Query{Table: history.TableByName, Name: name("evil.example.net"), FirstAfter: 1793700001, LastBefore: 1793872800,
			FirstBefore: 1793872800, LastAfter: 1793700000, Limit: 10}, 1, true},
		{"name offset", history.Query{Table: history.TableByName, Name: name("evil.example.net"), Offset: 1, Limit: 10}, 1, true},
		{"names (bulk, pivot)", history.Query{Table: history.TableByName, Names: []string{"evil.example.net.", "shared.example.net.", "www.example.net."},
			RRTypes: []string{"A", "AAAA", "CNAME"}, Limit: 10}, 4, true},
		{"names limited by name (bulk)", history.Query{Table: history.TableByName, Names: []string{"evil.example.net.", "shared.example.net."}, LimitBy: 1, Limit: 10}, 2, true},
		{"name bailiwick", history.Query{Table: history.TableByName, Name: name("evil.example.net"), Under: "example.net.", Limit: 10}, 2, true},
		{"ip single", history.Query{Table: history.TableByIP, IP: ip("192.0.2.2"), Limit: 10}, 2, true},
		{"ip prefix", history.Query{Table: history.TableByIP, IP: ip("192.0.2.0/24"), Limit: 10}, 3, true},
		{"ip prefix after cursor", history.Query{Table: history.TableByIP, IP: ip("192.0.2.0/24"), After: []string{"::ffff:192.0.2.1", "evil.example.net.", "A"}, Limit: 10}, 2, true},
		{"ip range", history.Query{Table: history.TableByIP, IP: ip("203.0.113.1-203.0.113.2"), Limit: 10}, 2, true},
		{"ipv6 prefix", history.Query{Table: history.TableByIP, IP: ip("2001:db8::,32"), RRTypes: []string{"AAAA"}, Limit: 10}, 1, true},
		{"ips limited by address (pivot)", history.Query{Table: history.TableByIP, IPs: []netip.Addr{ip("192.0.2.2").Lo, ip("198.51.100.7").Lo, ip("2001:db8::1").Lo},
			LimitBy: 1, Limit: 10}, 3, true},
		{"ips (pivot)", history.Query{Table: history.TableByIP, IPs: []netip.Addr{ip("192.0.2.2").Lo, ip("192.0.2.1").Lo}, LastAfter: 1, Limit: 10}, 3, true},
		{"ip window", history.Query{Table: history.TableByIP, IP: ip("192.0.2.0/24"), LastAfter: 1793786400, FirstBefore: 1793786400, Limit: 10}, 1, true},
		{"rdata exact", history.Query{Table: history.TableByRdata, Name: name("cdn.example.net"), Limit: 10}, 1, true},
		{"rdata suffix", history.Query{Table: history.TableByRdata, Name: name("*.example.net"), Limit: 10}, 2, true},
		{"rdata names CNAME (aliases)", history.Query{Table: history.TableByRdata, Names: []string{"cdn.example.net."}, RRTypes: []string{"CNAME"}, Limit: 10}, 1, true},
		{"rdata names NS MX (pivot via)", history.Query{Table: history.TableByRdata, Names: []string{"mail.example.net.", "cdn.example.net."}, RRTypes: []string{"NS", "MX"}, Limit: 10}, 1, true},
		{"rdata after cursor", history.Query{Table: history.TableByRdata, Name: name("*.example.net"),
			After: []string{record.Reverse("mail.example.net."), "MX", "example.net.", "10 mail.example.net."}, Limit: 10}, 1, true},
		{"negative exact", history.Query{Table: history.TableNegative, Name: name("nx.example.net"), Limit: 10}, 1, true},
		{"negative suffix window", history.Query{Table: history.TableNegative, Name: name("*.example.net"), LastAfter: 1793700000, FirstBefore: 1793872800, Limit: 10}, 2, true},
		{"negative after cursor", history.Query{Table: history.TableNegative, Name: name("*.example.net"),
			After: []string{record.Reverse("nodata.example.net."), "AAAA", "NOERROR"}, Limit: 10}, 1, true},
		{"daily exact", history.Query{Table: history.TableDaily, Name: name("evil.example.net"), Limit: 10}, 3, true},
		{"daily names and rdata (rdata lookups)", history.Query{Table: history.TableDaily, Names: []string{"evil.example.net.", "shared.example.net."},
			RDatas: []string{"192.0.2.2"}, RRTypes: []string{"A", "AAAA"}, Limit: 10}, 3, true},
		{"rrset exact", history.Query{Table: history.TableRRset, Name: name("pair.example.org"), Limit: 10}, 2, true},
		{"rrset exact moving", history.Query{Table: history.TableRRset, Name: name("evil.example.net"), RRTypes: []string{"A"}, Limit: 10}, 2, true},
		{"rrset suffix", history.Query{Table: history.TableRRset, Name: name("*.wild.example.net"), Limit: 10}, 3, true},
		{"rrset prefix (scan)", history.Query{Table: history.TableRRset, Name: name("pair.example.*"), Limit: 10}, 2, false},
		{"rrset fences offset", history.Query{Table: history.TableRRset, Name: name("*.example.org"), FirstBefore: 1793872800, LastAfter: 1793700000,
			Offset: 0, Limit: 1}, 1, true},
		{"rrset offset", history.Query{Table: history.TableRRset, Name: name("pair.example.org"), Offset: 1, Limit: 10}, 1, true},
		{"rrset bailiwick", history.Query{Table: history.TableRRset, Name: name("pair.example.org"), Under: "example.org.", Limit: 10}, 2, true},
		{"rrset daily exact", history.Query{Table: history.TableRRsetDaily, Name: name("pair.example.org"), Limit: 10}, 2, true},
		{"rrset daily suffix fenced", history.Query{Table: history.TableRRsetDaily, Name: name("*.example.org"), RRTypes: []string{"A"},
			LastAfter: 1, FirstBefore: 1893456000, Under: "example.org.", Limit: 10}, 2, true},
		{"daily suffix fenced", history.Query{Table: history.TableDaily, Name: name("*.wild.example.net"), RRTypes: []string{"A"}, LastAfter: 1, FirstBefore: 1893456000, Limit: 10}, 3, true},
	}
	for _, tc := range cases {
		var want []string
		err := db.Run(ctx, tc.q, func(h history.Row) bool { want = append(want, historytest.TSV(tc.q.Table, h)); return true })
		if err != nil {
			t.Errorf("%s on 18.16: %v", tc.what, err)
			continue
		}
		if len(want) != tc.rows {
			t.Errorf("%s on 18.16: %d rows, want %d:\n%s", tc.what, len(want), tc.rows, strings.Join(want, "\n"))
		}
		sql, args := tc.q.Build(modern)
		bound := chdbtest.Bind(t, sql, args...)
		got := sess.MustExec(t, bound)
		if got != strings.Join(want, "") {
			t.Errorf("%s: 26.x and 18.16 differ:\n26.x:\n%s18.16:\n%s\nSQL:\n%s", tc.what, got, strings.Join(want, ""), bound)
		}
		plan := sess.MustExec(t, "EXPLAIN indexes = 1 "+bound)
		if usesKey := chdbtest.PrimaryKeyUsed(plan); usesKey != tc.pk {
			t.Errorf("%s: primary key used %v, want %v:\n%s", tc.what, usesKey, tc.pk, plan)
		}
		// The legacy SQL runs as is on 18.16 (above); its text differs only in the
		// address conversions.
		lsql, _ := tc.q.Build(legacy)
		if strings.Count(lsql, "?") != len(args) {
			t.Errorf("%s: legacy SQL has another number of placeholders", tc.what)
		}
	}

	// The RRsets of pair: the two addresses in either order are one set, then one alone;
	// per day, each set on the days it was served.
	for _, tc := range []struct {
		q    history.Query
		want string
	}{
		{history.Query{Table: history.TableRRset, Name: name("pair.example.org"), Limit: 10},
			"pair.example.org.\tA\t['198.18.0.1']\t1793872810\t1793872810\t1\n" +
				"pair.example.org.\tA\t['198.18.0.1','198.18.0.2']\t1793786800\t1793786900\t2\n"},
		{history.Query{Table: history.TableRRsetDaily, Name: name("*.example.org"), Limit: 10},
			"pair.example.org.\tA\t['198.18.0.1']\t1793872810\t1793872810\t1\t1793836800\n" +
				"pair.example.org.\tA\t['198.18.0.1','198.18.0.2']\t1793786800\t1793786900\t2\t1793750400\n"},
	} {
		var got []string
		if err := db.Run(ctx, tc.q, func(h history.Row) bool { got = append(got, historytest.TSV(tc.q.Table, h)); return true }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "") != tc.want {
			t.Errorf("%v on 18.16:\n%s want\n%s", tc.q.Table, strings.Join(got, ""), tc.want)
		}
	}

	// As-of reads the raw log by (reverse(qname), time).
	for _, types := range [][]string{nil, {"A"}} {
		args := []any{record.Reverse("evil.example.net."), int64(1793872800), int64(1793700000)}
		if types != nil {
			args = append(args, history.GroupSet(types))
		}
		args = append(args, history.AsOfRows)
		conn, _, _ := db.Get(ctx)
		rows, err := conn.Query(ctx, history.AsOfQuery(legacy, types), args...)
		if err != nil {
			t.Fatalf("as-of on 18.16: %v", err)
		}
		var want []string
		for rows.Next() {
			var x history.AsOfRow
			if err := rows.Scan(&x.T, &x.Ms, &x.QType, &x.RCode, &x.Names, &x.Types, &x.TTLs, &x.Data, &x.AuthTypes, &x.AuthTTLs); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%d\t%d\t%s\t%s\t%s\n", x.T, x.Ms, x.QType, x.RCode, strings.Join(x.Data, ",")))
		}
		rows.Close()
		bound := chdbtest.Bind(t, history.AsOfQuery(modern, types), args...)
		got := sess.MustExec(t, "SELECT t, ms, qtype, rcode, arrayStringConcat(`answer.data`, ',') FROM ("+bound+")")
		if got != strings.Join(want, "") || len(want) != 4 {
			t.Errorf("as-of %v: 26.x\n%s18.16\n%s", types, got, strings.Join(want, ""))
		}
		if plan := sess.MustExec(t, "EXPLAIN indexes = 1 "+bound); !chdbtest.PrimaryKeyUsed(plan) {
			t.Errorf("as-of does not use the primary key:\n%s", plan)
		}
	}
}
