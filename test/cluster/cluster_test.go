package cluster

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/clustertest"
)

var dbSeq atomic.Int64

// database is a database name of the test's own.
func database(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().Unix()%100000, dbSeq.Add(1))
}

func query(t testing.TB, s *chtest.Server, sql string) string {
	t.Helper()
	out, err := s.Query(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func count(t testing.TB, s *chtest.Server, sql string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(query(t, s, sql)))
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// syncReplicas waits until every replicated table of db on every node has what its other
// replica wrote. A Distributed read goes to either replica of a shard, and the views' parts
// are fetched apart from the raw table's, so a count of the raw rows alone does not say
// the history has arrived.
func syncReplicas(t *testing.T, db string) {
	t.Helper()
	for _, node := range cl.Nodes {
		tables := strings.Fields(query(t, node.Server, "SELECT table FROM system.replicas WHERE database = '"+db+"' ORDER BY table"))
		if len(tables) < 5 {
			t.Fatalf("%s: replicated tables of %s: %v, want the raw table and the history tables", node.Name, db, tables)
		}
		for _, table := range tables {
			query(t, node.Server, "SYSTEM SYNC REPLICA "+db+"."+table)
		}
	}
}

// waitCount waits until sql counts want on s; it fails the test after timeout.
func waitCount(t *testing.T, s *chtest.Server, sql string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := -1
	for time.Now().Before(deadline) {
		out, err := s.Query(sql)
		if err == nil {
			if got, err = strconv.Atoi(strings.TrimSpace(out)); err == nil && got == want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s on %s: %d after %v, want %d", sql, s.TCPAddr, got, timeout, want)
}

// TestClusterRecordsLikeOneServer: two resolvers with their own sensors, each writing to
// the replicas of one shard, answer a known mix. Through every node, responses and history
// hold what was answered, and a copy of the raw rows on one server gives the same history
// and the same API answers, byte for byte.
func TestClusterRecordsLikeOneServer(t *testing.T) {
	db := database(t, "same")
	auth := startAuth(t)
	s1 := resolver(t, "s1", dsn(db, cl.Shard(1)...), "s1", auth, "cluster passivedns\n        http 127.0.0.1:HTTPPORT")
	s2 := resolver(t, "s2", dsn(db, cl.Shard(2)...), "s2", auth, "cluster passivedns")
	n1 := askMix(t, s1.Addr)
	n2 := askMix(t, s2.Addr)
	total := n1 + n2
	for _, node := range cl.Nodes {
		waitCount(t, node.Server, "SELECT count() FROM "+db+".responses", total, 30*time.Second)
	}
	for i, want := range []int{n1, n2} {
		for _, node := range cl.Shard(i + 1) {
			waitCount(t, node.Server, "SELECT count() FROM "+db+".responses_local", want, 30*time.Second)
		}
	}
	syncReplicas(t, db)
	if got := query(t, cl.Nodes[3].Server, "SELECT sensor, count() FROM "+db+".responses GROUP BY sensor ORDER BY sensor"); got != fmt.Sprintf("s1\t%d\ns2\t%d\n", n1, n2) {
		t.Errorf("rows by sensor:\n%s", got)
	}
	// The expected history of the mix, counted from what was asked (each resolver once).
	wantHistory := "blog.example.org.\tCNAME\tdocs.example.org.\t4\n" +
		"docs.example.org.\tCNAME\twww.example.org.\t4\n" +
		"example.org.\tMX\t10 mail.example.org.\t2\n" +
		"mail.example.org.\tA\t192.0.2.25\t2\n" +
		"www.example.org.\tA\t192.0.2.1\t10\n" +
		"www.example.org.\tA\t192.0.2.2\t10\n" +
		"www.example.org.\tAAAA\t2001:db8::1\t4\n"
	for _, node := range cl.Nodes {
		got := query(t, node.Server, "SELECT rrname, rrtype, rdata, count FROM "+db+".history ORDER BY rrname, rrtype, rdata")
		if got != wantHistory {
			t.Errorf("history through %s:\n%s\nwant\n%s", node.Name, got, wantHistory)
		}
	}

	// The same raw rows on one server: create its schema with a resolver of its own, copy
	// the rows over in Native format, and compare history tables and API answers.
	one := resolver(t, "one", single.DSN(db), "s1", auth, "http 127.0.0.1:HTTPPORT")
	waitCount(t, single, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name = 'history'", 1, 30*time.Second)
	copyRows(t, cl.Nodes[1].Server, single, db)
	for _, table := range []struct{ name, cols string }{
		{"history_by_name", "rrname, rrtype, rdata"},
		{"history_by_ip", "ip, rrname, rrtype"},
		{"history_by_rdata", "target, rrname, rrtype, rdata"},
		{"history_rrset", "rrname, rrtype, rdata"},
	} {
		q := "SELECT " + table.cols + ", toUInt32(minMerge(time_first)), toUInt32(maxMerge(time_last)), countMerge(count) FROM " +
			db + "." + table.name + " GROUP BY " + table.cols + " ORDER BY " + table.cols
		want := query(t, single, q)
		if want == "" {
			t.Errorf("%s is empty on the single server", table.name)
		}
		for _, node := range cl.Nodes {
			if got := query(t, node.Server, q); got != want {
				t.Errorf("%s through %s:\n%s\none server:\n%s", table.name, node.Name, got, want)
			}
		}
	}
	for _, path := range []string{
		"/api/v1/name/www.example.org",
		"/api/v1/name/*.example.org",
		"/api/v1/ip/192.0.2.0/24",
		"/api/v1/rdata/www.example.org",
		"/api/v1/negative/*.example.org",
		"/api/v1/pivot/blog.example.org",
		"/dnsdb/v2/lookup/rrset/name/www.example.org",
		"/dnsdb/v2/lookup/rrset/name/*.example.org?aggr=false",
		"/pdns/query/www.example.org",
	} {
		got, want := get(t, hostPort(s1.Ports.HTTP), path), get(t, hostPort(one.Ports.HTTP), path)
		if got != want || len(want) < 20 {
			t.Errorf("GET %s: cluster\n%s\none server\n%s", path, got, want)
		}
	}
}

// copyRows copies every row of db.responses from one server to another in Native format.
func copyRows(t *testing.T, from, to *chtest.Server, db string) {
	t.Helper()
	rows := post(t, from.HTTPAddr, "SELECT * FROM "+db+".responses ORDER BY time, qname FORMAT Native", nil)
	post(t, to.HTTPAddr, "INSERT INTO "+db+".responses FORMAT Native", rows)
}

func post(t *testing.T, addr, sql string, body []byte) []byte {
	t.Helper()
	u := "http://" + addr + "/?query=" + url.QueryEscape(sql)
	resp, err := http.Post(u, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v %s", sql, resp.StatusCode, err, b)
	}
	return b
}

func get(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// load asks a stream of queries with names of their own until stop is closed and returns
// how many were answered; each name is q<i>.load.example.org.
func load(t *testing.T, addr string, stop <-chan struct{}, answered *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if rc, _ := ask(t, addr, fmt.Sprintf("q%d.load.example.org.", i), dns.TypeA); rc != dns.RcodeSuccess {
			t.Errorf("q%d: rcode %d", i, rc)
		}
		answered.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReplicaKilledUnderLoad: kill -9 one replica of the shard a resolver writes to, while
// it answers a stream of queries. Answers keep flowing, every answer is recorded once, and
// the killed replica catches up after its restart.
func TestReplicaKilledUnderLoad(t *testing.T) {
	db := database(t, "kill")
	auth := startAuth(t)
	shard := cl.Shard(1)
	r := resolver(t, "r", dsn(db, shard...), "kill", auth, "cluster passivedns\n        spool "+t.TempDir())
	ask(t, r.Addr, "www.example.org.", dns.TypeA)
	waitCount(t, shard[1].Server, "SELECT count() FROM "+db+".responses_local", 1, 30*time.Second)

	stop := make(chan struct{})
	done := make(chan struct{})
	var answered atomic.Int64
	go func() { defer close(done); load(t, r.Addr, stop, &answered) }()
	time.Sleep(2 * time.Second)
	before := answered.Load()
	shard[0].Kill()
	time.Sleep(4 * time.Second)
	during := answered.Load() - before
	if err := shard[0].Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	<-done
	if during < 100 {
		t.Errorf("only %d answers in the 4 s the replica was down", during)
	}
	total := int(answered.Load()) + 1
	t.Logf("%d answers, %d while the replica was down", total, during)
	waitCount(t, shard[1].Server, "SELECT count() FROM "+db+".responses_local", total, 60*time.Second)
	if n := count(t, shard[1].Server, "SELECT uniqExact(qname) FROM "+db+".responses_local"); n != total {
		t.Errorf("%d distinct names in %d rows: duplicates", n, total)
	}
	waitCount(t, shard[0].Server, "SELECT count() FROM "+db+".responses_local", total, 60*time.Second)
	// History: the views of an insert that a kill cuts short. On 18.16 a retried block that
	// the replicated raw table already has is dropped before it reaches the views, so the
	// history of the one batch in flight at the kill may be missing (README: Cluster mode);
	// servers from 22.x deduplicate each view's table on its own
	// (deduplicate_blocks_in_dependent_materialized_views), which the sink turns on.
	time.Sleep(15 * time.Second) // the restarted replica fetches what it missed
	for _, node := range shard {
		local := count(t, node.Server, "SELECT toUInt64(countMerge(count)) FROM "+db+".history_by_name_local WHERE rrname LIKE '%.load.example.org.'")
		raw := count(t, node.Server, "SELECT count() FROM "+db+".responses_local WHERE qname LIKE '%.load.example.org.'")
		t.Logf("%s: %d raw rows, history counts %d", node.Name, raw, local)
		if raw != total-1 || local > raw || raw-local > maxInFlight {
			t.Errorf("%s: %d raw rows (want %d), history counts %d: more than one batch (%d) short", node.Name, raw, total-1, local, maxInFlight)
		}
	}
}

// maxInFlight bounds the rows of the one batch an insert cut short by a kill can hold: a
// flush of 100 ms at the load's rate of at most one answer each 2 ms.
const maxInFlight = 60

// TestZooKeeperDown: without ZooKeeper the replicated tables take no inserts; DNS answers
// on, the writer spools and retries, and once ZooKeeper is back every answer is recorded
// once.
func TestZooKeeperDown(t *testing.T) {
	db := database(t, "zk")
	auth := startAuth(t)
	shard := cl.Shard(2)
	r := resolver(t, "r", dsn(db, shard...), "zk", auth, "cluster passivedns\n        spool "+t.TempDir())
	for i := range 50 {
		ask(t, r.Addr, fmt.Sprintf("a%d.load.example.org.", i), dns.TypeA)
	}
	waitCount(t, shard[0].Server, "SELECT count() FROM "+db+".responses", 50, 30*time.Second)
	cl.ZooKeeper.Stop()
	zkUp := false
	defer func() {
		if !zkUp {
			cl.ZooKeeper.Start()
		}
	}()
	for i := range 100 {
		if rc, n := ask(t, r.Addr, fmt.Sprintf("b%d.load.example.org.", i), dns.TypeA); rc != dns.RcodeSuccess || n != 1 {
			t.Fatalf("b%d without ZooKeeper: rcode %d, %d answers", i, rc, n)
		}
	}
	time.Sleep(3 * time.Second) // several failed inserts
	if err := cl.ZooKeeper.Start(); err != nil {
		t.Fatal(err)
	}
	zkUp = true
	waitCount(t, shard[0].Server, "SELECT count() FROM "+db+".responses_local", 150, 90*time.Second)
	if n := count(t, shard[0].Server, "SELECT uniqExact(qname) FROM "+db+".responses_local"); n != 150 {
		t.Errorf("%d distinct names in 150 rows", n)
	}
	waitCount(t, shard[1].Server, "SELECT count() FROM "+db+".responses_local", 150, 60*time.Second)
}

// clustertestName is the cluster of the test servers' remote_servers.
const clustertestName = clustertest.Name

// waitAnswer waits until sql answers want on s.
func waitAnswer(t *testing.T, s *chtest.Server, sql, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for time.Now().Before(deadline) {
		if out, err := s.Query(sql); err == nil {
			if got = out; got == want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s on %s:\n%s\nwant\n%s", sql, s.TCPAddr, got, want)
}
