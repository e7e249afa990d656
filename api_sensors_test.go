package passivedns

import (
	"github.com/passivedns/passivedns/internal/chdbtest"
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/history/historytest"
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"

	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// Tests of the schema version 3 detail (which sensors saw a tuple, its TTLs), the
// sensor filter, /api/v1/new and the labelled negative answers, on two sensors sharing
// one ClickHouse, recorded through ServeDNS.

// newRecordingIn is newRecording writing into an existing database as another sensor.
func newRecordingIn(t *testing.T, db, sensor string) *recording {
	t.Helper()
	cfg := chConfig(t, db)
	cfg.sensor = sensor
	cfg.batch, cfg.flush, cfg.queue = 5000, 20*time.Millisecond, 100000
	rec := &recording{t: t, db: db, cfg: cfg, answer: map[string]*dns.Msg{}}
	rec.clock = &clockSink{sink: newSink(cfg), done: map[uint64]bool{}}
	rec.p = &PassiveDNS{cfg: cfg, writer: newWriter(cfg, rec.clock)}
	rec.p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		q := r.Question[0]
		m, ok := rec.answer[strings.ToLower(q.Name)+"/"+dns.TypeToString[q.Qtype]]
		if !ok {
			return dns.RcodeServerFailure, fmt.Errorf("no answer for %v", q)
		}
		rcode := m.Rcode
		m = m.Copy()
		m.SetReply(r)
		m.Rcode = rcode
		w.WriteMsg(m)
		return m.Rcode, nil
	})
	if err := rec.p.writer.start(); err != nil {
		t.Fatalf("writer start: %v", err)
	}
	t.Cleanup(func() { rec.p.writer.stop() })
	return rec
}

// recordSensors records on sensor-1 and sensor-2: evil.example.net seen by both with
// two TTLs, only2 (and its CNAME) by sensor-2 only on the second day, an NXDOMAIN on
// sensor-2 and a NODATA on sensor-1, each with the zone's SOA.
func recordSensors(t *testing.T) (s1, s2 *recording) {
	s1 = newRecording(t)
	s2 = newRecordingIn(t, s1.db, "sensor-2")
	A, AAAA := dns.TypeA, dns.TypeAAAA
	soa := "example.net. 900 IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"
	s1.set("evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 300 IN A 192.0.2.1")
	s1.ask(scT0, "evil.example.net.", A)
	s2.set("evil.example.net.", A, dns.RcodeSuccess, "evil.example.net. 120 IN A 192.0.2.1")
	s2.ask(at(scT0, 60), "evil.example.net.", A)
	s1.ask(scT1, "evil.example.net.", A)
	s2.set("alias.example.net.", A, dns.RcodeSuccess, "alias.example.net. 60 IN CNAME only2.example.net.", "only2.example.net. 30 IN A 192.0.2.50")
	s2.ask(at(scT1, 10), "alias.example.net.", A)
	s2.set("nx.example.net.", A, dns.RcodeNameError, soa)
	s2.ask(at(scT1, 20), "nx.example.net.", A)
	s1.set("nodata.example.net.", AAAA, dns.RcodeSuccess, soa)
	s1.ask(at(scT1, 30), "nodata.example.net.", AAAA)
	s1.flush()
	s2.flush()
	return s1, s2
}

func TestAPISensors(t *testing.T) {
	s1, _ := recordSensors(t)
	c := startAPI(t, s1.cfg, httpapi.Config{}, scNow)
	n := func(k int) string { return fmt.Sprintf(`{"done":true,"count":%d}`, k) }
	evil := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-04T10:00:00Z","count":3,` +
		`"sensors":["sensor-1","sensor-2"],"ttl_min":120,"ttl_max":300}`
	only2 := `{"rrname":"only2.example.net.","rrtype":"A","rdata":"192.0.2.50","time_first":"2026-11-04T10:00:10Z","time_last":"2026-11-04T10:00:10Z","count":1,` +
		`"sensors":["sensor-2"],"ttl_min":30,"ttl_max":30}`
	alias := `{"rrname":"alias.example.net.","rrtype":"CNAME","rdata":"only2.example.net.","time_first":"2026-11-04T10:00:10Z","time_last":"2026-11-04T10:00:10Z","count":1,` +
		`"sensors":["sensor-2"],"ttl_min":60,"ttl_max":60}`
	c.expect("/api/v1/name/evil.example.net", 200, lines(evil, n(1)))
	// By reversed name: only2 < evil < alias (ten.elpmaxe.2ylno, .live, .saila).
	c.expect("/api/v1/name/*.example.net", 200, lines(only2, evil, alias, n(3)))
	c.expect("/api/v1/name/*.example.net?sensor=sensor-1", 200, lines(evil, n(1)))
	c.expect("/api/v1/name/*.example.net?sensor=sensor-2", 200, lines(only2, evil, alias, n(3)))
	c.expect("/api/v1/name/*.example.net?sensor=sensor-1&sensor=sensor-2&rrtype=A", 200, lines(only2, evil, n(2)))
	c.expect("/api/v1/name/*.example.net?sensor=sensor-3", 200, lines(n(0)))
	withAliases := func(rec, al string) string { return strings.TrimSuffix(rec, "}") + `,"aliases":[` + al + `]}` }
	aliasOf := `{"rrname":"alias.example.net.","chain":["alias.example.net.","only2.example.net."],"time_first":"2026-11-04T10:00:10Z","time_last":"2026-11-04T10:00:10Z","count":1}`
	c.expect("/api/v1/ip/192.0.2.0/24?sensor=sensor-2", 200, lines(withAliases(evil, ""), withAliases(only2, aliasOf), n(2)))
	c.expect("/api/v1/ip/192.0.2.0/24?sensor=sensor-1&aliases=false", 200, lines(evil, n(1)))
	c.expect("/api/v1/rdata/only2.example.net", 200, lines(alias, n(1)))
	c.expect("/api/v1/rdata/only2.example.net?sensor=sensor-1", 200, lines(n(0)))

	// Negative answers: labelled, with the SOA and the sensors.
	soa := `"soa":{"rrname":"example.net.","ttl":900,"rdata":"ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 900"}`
	nodata := `{"qname":"nodata.example.net.","qtype":"AAAA","rcode":"NOERROR","negative":"NODATA","time_first":"2026-11-04T10:00:30Z","time_last":"2026-11-04T10:00:30Z","count":1,"sensors":["sensor-1"],` + soa + `}`
	nx := `{"qname":"nx.example.net.","qtype":"A","rcode":"NXDOMAIN","negative":"NXDOMAIN","time_first":"2026-11-04T10:00:20Z","time_last":"2026-11-04T10:00:20Z","count":1,"sensors":["sensor-2"],` + soa + `}`
	c.expect("/api/v1/negative/*.example.net", 200, lines(nodata, nx, n(2)))
	c.expect("/api/v1/negative/*.example.net?sensor=sensor-2", 200, lines(nx, n(1)))

	// COF: sensor_id is the (first) sensor that saw the record, not this server's.
	c.expect("/pdns/query/only2.example.net", 200, lines(
		`{"rrname":"only2.example.net.","rrtype":"A","rdata":["192.0.2.50"],"time_first":1793786410,"time_last":1793786410,"count":1,"sensor_id":"sensor-2"}`))
	c.expect("/pdns/query/evil.example.net", 200, lines(
		`{"rrname":"evil.example.net.","rrtype":"A","rdata":["192.0.2.1"],"time_first":1793700000,"time_last":1793786400,"count":3,"sensor_id":"sensor-1"}`))

	// Bulk takes the filter too.
	bulk := c.do("POST", "/api/v1/bulk?sensor=sensor-2&rrtype=A", nil, strings.NewReader("only2.example.net\nevil.example.net\n"))
	if !strings.Contains(bulk.body, `"index":0,"rrname":"only2.example.net."`) || !strings.Contains(bulk.body, `"index":1,"rrname":"evil.example.net."`) || bulk.status != 200 {
		t.Errorf("bulk with sensor: %d %s", bulk.status, bulk.body)
	}
	bulk = c.do("POST", "/api/v1/bulk?sensor=sensor-1", nil, strings.NewReader("only2.example.net\n"))
	if !strings.Contains(bulk.body, `{"input":"only2.example.net","index":0,"done":true,"count":0,"limited":false}`) {
		t.Errorf("bulk with sensor-1: %s", bulk.body)
	}

	// A cursor is tied to its sensors.
	p1 := c.get("/api/v1/name/*.example.net?sensor=sensor-2&limit=1")
	ls := strings.Split(strings.TrimSpace(p1.body), "\n")
	var tr httpapi.NativeTrailer
	if len(ls) != 2 || ls[0] != only2 || json.Unmarshal([]byte(ls[1]), &tr) != nil || tr.Cursor == "" {
		t.Fatalf("first page: %s", p1.body)
	}
	c.expect("/api/v1/name/*.example.net?sensor=sensor-2&limit=2&cursor="+tr.Cursor, 200, lines(evil, alias, n(2)))
	if r := c.get("/api/v1/name/*.example.net?sensor=sensor-1&limit=1&cursor=" + tr.Cursor); r.status != 400 || !strings.Contains(r.body, `"parameter":"cursor"`) {
		t.Errorf("cursor with other sensors: %d %s", r.status, r.body)
	}
}

func TestAPINew(t *testing.T) {
	s1, _ := recordSensors(t)
	c := startAPI(t, s1.cfg, httpapi.Config{}, scNow)
	n := func(k int) string { return fmt.Sprintf(`{"done":true,"count":%d}`, k) }
	evil := `{"rrname":"evil.example.net.","rrtype":"A","rdata":"192.0.2.1","time_first":"2026-11-03T10:00:00Z","time_last":"2026-11-04T10:00:00Z","count":3,` +
		`"sensors":["sensor-1","sensor-2"],"ttl_min":120,"ttl_max":300}`
	only2 := `{"rrname":"only2.example.net.","rrtype":"A","rdata":"192.0.2.50","time_first":"2026-11-04T10:00:10Z","time_last":"2026-11-04T10:00:10Z","count":1,` +
		`"sensors":["sensor-2"],"ttl_min":30,"ttl_max":30}`
	alias := `{"rrname":"alias.example.net.","rrtype":"CNAME","rdata":"only2.example.net.","time_first":"2026-11-04T10:00:10Z","time_last":"2026-11-04T10:00:10Z","count":1,` +
		`"sensors":["sensor-2"],"ttl_min":60,"ttl_max":60}`
	// evil was seen again on the second day but first seen on the first: not new there.
	day2 := "from=2026-11-04T00:00:00Z&to=2026-11-04T23:59:59Z"
	c.expect("/api/v1/new?"+day2, 200, lines(only2, alias, n(2)))
	c.expect("/api/v1/new?from=2026-11-03T00:00:00Z&to=2026-11-03T23:59:59Z", 200, lines(evil, n(1)))
	// With no to, up to now; the window ends are inclusive.
	c.expect("/api/v1/new?from=2026-11-04T10:00:10Z", 200, lines(only2, alias, n(2)))
	c.expect("/api/v1/new?from=2026-11-03T10:00:00Z&to=2026-11-03T10:00:00Z", 200, lines(evil, n(1)))
	c.expect("/api/v1/new?"+day2+"&name=only2.example.net", 200, lines(only2, n(1)))
	c.expect("/api/v1/new?"+day2+"&name=*.example.net&rrtype=CNAME", 200, lines(alias, n(1)))
	c.expect("/api/v1/new?"+day2+"&ip=192.0.2.0/24", 200, lines(only2, n(1)))
	c.expect("/api/v1/new?from=-30h&ip=192.0.2.0/24", 200, lines(only2, n(1))) // scNow is 2026-11-05T11:00Z
	c.expect("/api/v1/new?"+day2+"&sensor=sensor-1", 200, lines(n(0)))
	c.expect("/api/v1/new?from=2026-11-05T00:00:00Z", 200, lines(n(0)))

	// Pages.
	p1 := c.get("/api/v1/new?" + day2 + "&limit=1")
	ls := strings.Split(strings.TrimSpace(p1.body), "\n")
	var tr httpapi.NativeTrailer
	if len(ls) != 2 || ls[0] != only2 || json.Unmarshal([]byte(ls[1]), &tr) != nil || tr.Cursor == "" {
		t.Fatalf("first page: %s", p1.body)
	}
	c.expect("/api/v1/new?"+day2+"&limit=1&cursor="+tr.Cursor, 200, lines(alias, n(1)))
	if r := c.get("/api/v1/new?" + day2 + "&name=*.example.net&limit=1&cursor=" + tr.Cursor); r.status != 400 || !strings.Contains(r.body, `"parameter":"cursor"`) {
		t.Errorf("cursor of another query: %d %s", r.status, r.body)
	}
}

// TestAPIDetailBadInput: the new parameters' errors name them.
func TestAPIDetailBadInput(t *testing.T) {
	s1 := newRecording(t)
	c := startAPI(t, s1.cfg, httpapi.Config{}, scNow)
	for _, tc := range []struct{ path, param string }{
		{"/api/v1/name/example.net?sensor=", "sensor"},
		{"/api/v1/name/example.net?sensor=a%01b", "sensor"},
		{"/api/v1/name/example.net?sensor=" + strings.Repeat("x", 256), "sensor"},
		{"/api/v1/ip/192.0.2.1?sensor=", "sensor"},
		{"/api/v1/negative/example.net?sensor=", "sensor"},
		{"/api/v1/new", "from"},
		{"/api/v1/new?to=-1h", "from"},
		{"/api/v1/new?from=yesterday", "from"},
		{"/api/v1/new?from=-2h&to=-3h", "to"},
		{"/api/v1/new?from=-2h&name=a..b", "name"},
		{"/api/v1/new?from=-2h&ip=300.1.1.1", "ip"},
		{"/api/v1/new?from=-2h&ip=192.0.2.1&name=example.net", "ip"},
		{"/api/v1/new?from=-2h&window=strict", "window"},
		{"/api/v1/new?from=-2h&limit=0", "limit"},
		{"/api/v1/new?from=-2h&cursor=x", "cursor"},
		{"/api/v1/new?from=-2h&sensor=", "sensor"},
	} {
		r := c.get(tc.path)
		if r.status != 400 || !strings.Contains(r.body, `"parameter":"`+tc.param+`"`) {
			t.Errorf("%s: %d %s; want 400 naming %s", tc.path, r.status, r.body, tc.param)
		}
	}
	r := c.do("POST", "/api/v1/bulk?sensor=", nil, strings.NewReader("example.net\n"))
	if r.status != 400 || !strings.Contains(r.body, `"parameter":"sensor"`) {
		t.Errorf("bulk sensor=: %d %s", r.status, r.body)
	}
}

// TestAPIDetailModern proves the new query shapes on ClickHouse 26.x: the sensor
// filter on each aggregating table and on the raw log, /new without a name, and the
// detail query, with the same rows as 18.16, and by primary key where one serves.
func TestAPIDetailModern(t *testing.T) {
	s1, s2 := recordSensors(t)
	sess := chdbtest.ForTest(t)
	modern := schema.Schema{Flavor: schema.DetectFlavor("26.5.1"), DB: "pdns_detail"}
	chdbtest.EnsureSchema(t, sess, modern, 0)
	for _, r := range []*recording{s1, s2} {
		for _, b := range r.clock.batches {
			recordtest.Insert(t, sess, modern, b)
		}
	}
	db := history.New(history.Options{ClickHouse: s1.cfg.options, Database: s1.cfg.database, MaxConcurrent: 1})
	t.Cleanup(db.Close)
	ctx := context.Background()
	conn, legacy, err := db.Get(ctx)
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
	ip, _ := param.ParseIP("ip", "192.0.2.0/24")
	both := []string{"sensor-1", "sensor-2"}
	cases := []struct {
		what string
		q    history.Query
		rows int
		pk   bool
	}{
		{"name suffix sensor", history.Query{Table: history.TableByName, Name: name("*.example.net"), Sensors: []string{"sensor-1"}, Limit: 10}, 1, true},
		{"name suffix sensors rrtypes", history.Query{Table: history.TableByName, Name: name("*.example.net"), Sensors: both, RRTypes: []string{"A"}, Limit: 10}, 2, true},
		{"ip prefix sensor", history.Query{Table: history.TableByIP, IP: ip, Sensors: []string{"sensor-2"}, Limit: 10}, 2, true},
		{"rdata sensor", history.Query{Table: history.TableByRdata, Name: name("only2.example.net"), Sensors: []string{"sensor-2"}, Limit: 10}, 1, true},
		{"negative sensor", history.Query{Table: history.TableNegative, Name: name("*.example.net"), Sensors: []string{"sensor-2"}, Limit: 10}, 1, true},
		{"new anywhere (scan)", history.Query{Table: history.TableByName, AllNames: true, FirstAfter: 1793750400, FirstBefore: 1793836799, Limit: 10}, 2, false},
		{"new anywhere sensor after cursor (key from the cursor on)", history.Query{Table: history.TableByName, AllNames: true, FirstAfter: 1, Sensors: []string{"sensor-2"},
			After: []string{record.Reverse("only2.example.net."), "A", "192.0.2.50"}, Limit: 10}, 2, true},
		{"new by name", history.Query{Table: history.TableByName, Name: name("*.example.net"), FirstAfter: 1793750400, FirstBefore: 1793836799, Limit: 10}, 2, true},
		{"new by ip", history.Query{Table: history.TableByIP, IP: ip, FirstAfter: 1793750400, FirstBefore: 1793836799, Limit: 10}, 1, true},
	}
	asofBySensorModern(t, ctx, db, sess, legacy, modern)
	for _, tc := range cases {
		var want []string
		var rows []history.Row
		err := db.Run(ctx, tc.q, func(h history.Row) bool {
			rows = append(rows, h)
			want = append(want, historytest.TSV(tc.q.Table, h))
			return true
		})
		if err != nil {
			t.Errorf("%s on 18.16: %v", tc.what, err)
			continue
		}
		if len(want) != tc.rows {
			t.Errorf("%s on 18.16: %d rows, want %d:\n%s", tc.what, len(want), tc.rows, strings.Join(want, ""))
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
		// On a cluster the sensor filter is a GLOBAL IN (the names read are the same
		// Distributed ones; here they are the local tables, which GLOBAL IN reads alike).
		if len(tc.q.Sensors) > 0 && tc.q.Table != history.TableNegative {
			cluster := modern
			cluster.Cluster = "passivedns"
			csql, cargs := tc.q.Build(cluster)
			if !strings.Contains(csql, " GLOBAL IN (SELECT ") {
				t.Errorf("%s: no GLOBAL IN on a cluster:\n%s", tc.what, csql)
			}
			if got := sess.MustExec(t, chdbtest.Bind(t, csql, cargs...)); got != strings.Join(want, "") {
				t.Errorf("%s with GLOBAL IN: 26.x\n%s want\n%s", tc.what, got, strings.Join(want, ""))
			}
		}
		if tc.q.Table == history.TableNegative || len(rows) == 0 {
			continue
		}
		// The detail of these rows, on both servers, read by key.
		dsql, dargs := history.DetailQuery(legacy, tc.q.Table, rows)
		res, err := conn.Query(ctx, dsql+"\nORDER BY "+detailOrder(tc.q.Table), dargs...)
		if err != nil {
			t.Fatalf("%s detail on 18.16: %v\n%s", tc.what, err, dsql)
		}
		var dwant []string
		for res.Next() {
			var k1, k2, k3, k4 string
			var sensors []string
			var tmin, tmax uint32
			dest := []any{&k1, &k2, &k3}
			if tc.q.Table == history.TableByRdata {
				dest = append(dest, &k4)
			}
			if err := res.Scan(append(dest, &sensors, &tmin, &tmax)...); err != nil {
				t.Fatal(err)
			}
			cols := []string{k1, k2, k3}
			if tc.q.Table == history.TableByRdata {
				cols = append(cols, k4)
			}
			dwant = append(dwant, strings.Join(append(cols, fmt.Sprint(len(sensors)), fmt.Sprint(tmin), fmt.Sprint(tmax)), "\t")+"\n")
		}
		res.Close()
		msql, margs := history.DetailQuery(modern, tc.q.Table, rows)
		mbound := chdbtest.Bind(t, msql+"\nORDER BY "+detailOrder(tc.q.Table), margs...)
		dgot := sess.MustExec(t, "SELECT * EXCEPT (s), length(s) AS ns, tmin, tmax FROM ("+mbound+")")
		if len(dwant) == 0 || dgot != reorderDetail(strings.Join(dwant, "")) {
			t.Errorf("%s detail: 26.x\n%s18.16\n%s", tc.what, dgot, strings.Join(dwant, ""))
		}
		if plan := sess.MustExec(t, "EXPLAIN indexes = 1 "+mbound); !chdbtest.PrimaryKeyUsed(plan) {
			t.Errorf("%s: the detail query does not use the primary key:\n%s", tc.what, plan)
		}
	}
}

// asofBySensorModern runs the as-of query with a sensor filter on both servers.
func asofBySensorModern(t *testing.T, ctx context.Context, db *history.DB, sess *chdbtest.Session, legacy, modern schema.Schema) {
	t.Helper()
	args := []any{record.Reverse("evil.example.net."), int64(1793872800), int64(1793700000), history.GroupSet([]string{"A"}), history.GroupSet([]string{"sensor-2"}), history.AsOfRows}
	conn, _, _ := db.Get(ctx)
	rows, err := conn.Query(ctx, history.AsOfQueryBy(legacy, []string{"A"}, true), args...)
	if err != nil {
		t.Fatalf("as-of by sensor on 18.16: %v", err)
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
	bound := chdbtest.Bind(t, history.AsOfQueryBy(modern, []string{"A"}, true), args...)
	got := sess.MustExec(t, "SELECT t, ms, qtype, rcode, arrayStringConcat(`answer.data`, ',') FROM ("+bound+")")
	if got != strings.Join(want, "") || len(want) != 1 {
		t.Errorf("as-of by sensor: 26.x\n%s18.16\n%s", got, strings.Join(want, ""))
	}
	if plan := sess.MustExec(t, "EXPLAIN indexes = 1 "+bound); !chdbtest.PrimaryKeyUsed(plan) {
		t.Errorf("as-of by sensor does not use the primary key:\n%s", plan)
	}
}

func detailOrder(t history.Table) string {
	switch t {
	case history.TableByIP:
		return "ip, rrname, rrtype"
	case history.TableByRdata:
		return "reverse(target), rrtype, rrname, rdata"
	}
	return "reverse(rrname), rrtype, rdata"
}

// reorderDetail: SELECT * EXCEPT (s), ns, tmin, tmax prints tmin and tmax twice.
func reorderDetail(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Split(l, "\t")
		n := len(f)
		out = append(out, strings.Join(append(f[:n-3:n-3], f[n-2], f[n-1], f[n-3], f[n-2], f[n-1]), "\t"))
	}
	return strings.Join(out, "\n") + "\n"
}

// TestAPIPivotSensors: a pivot keeps to the sensors asked for, in every hop.
func TestAPIPivotSensors(t *testing.T) {
	s1, _ := recordSensors(t)
	c := startAPI(t, s1.cfg, httpapi.Config{}, scNow)
	all := c.get("/api/v1/pivot/alias.example.net")
	if all.status != 200 || !strings.Contains(all.body, `"id":"ip:192.0.2.50"`) || !strings.Contains(all.body, `"id":"name:only2.example.net."`) {
		t.Errorf("pivot: %d %s", all.status, all.body)
	}
	c.expect("/api/v1/pivot/alias.example.net?sensor=sensor-2", 200, all.body)
	c.expect("/api/v1/pivot/alias.example.net?sensor=sensor-1", 200,
		`{"name":"alias.example.net.","nodes":[{"id":"name:alias.example.net.","kind":"name","value":"alias.example.net."}],"edges":[],"truncated":false}`+"\n")
	if r := c.get("/api/v1/pivot/alias.example.net?sensor="); r.status != 400 || !strings.Contains(r.body, `"parameter":"sensor"`) {
		t.Errorf("pivot sensor=: %d %s", r.status, r.body)
	}
}

// TestAPIAsOfSensors: as-of over one sensor's answers only.
func TestAPIAsOfSensors(t *testing.T) {
	s1, _ := recordSensors(t)
	c := startAPI(t, s1.cfg, httpapi.Config{}, scNow)
	answered := func(path string) string {
		t.Helper()
		r := c.get(path)
		var res struct {
			Answers []struct {
				AnsweredAt string `json:"answered_at"`
				TTL        uint32 `json:"ttl"`
				Covers     bool   `json:"covers"`
			} `json:"answers"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &res) != nil {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		var out []string
		for _, a := range res.Answers {
			out = append(out, fmt.Sprintf("%s %d %v", a.AnsweredAt, a.TTL, a.Covers))
		}
		return strings.Join(out, ";")
	}
	at := "?at=2026-11-04T10:01:00Z"
	for _, tc := range []struct{ q, want string }{
		{"", "2026-11-04T10:00:00.000Z 300 true"},
		{"&sensor=sensor-1", "2026-11-04T10:00:00.000Z 300 true"},
		{"&sensor=sensor-2", "2026-11-03T10:01:00.000Z 120 false"},
		{"&sensor=sensor-3", ""},
	} {
		if got := answered("/api/v1/asof/evil.example.net" + at + tc.q); got != tc.want {
			t.Errorf("as-of%s: %q, want %q", tc.q, got, tc.want)
		}
	}
	if r := c.get("/api/v1/asof/evil.example.net?sensor="); r.status != 400 || !strings.Contains(r.body, `"parameter":"sensor"`) {
		t.Errorf("as-of sensor=: %d %s", r.status, r.body)
	}
}
