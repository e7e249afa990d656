package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

var c *Cluster

func TestMain(m *testing.M) { os.Exit(Main(m, &c)) }

// TestClusterUp checks what every node was configured with: version, macros, the cluster's
// four replicas in two shards, and a working ZooKeeper connection.
func TestClusterUp(t *testing.T) {
	t.Logf("cluster started in %v (%s; ZooKeeper %s)", c.StartTime.Round(time.Millisecond), c.StartSteps, c.ZooKeeper.Addr)
	for _, n := range c.Nodes {
		if v := mustQuery(t, n, "SELECT version()"); !strings.HasPrefix(v, "18.") {
			t.Errorf("%s: version %q, want Debian's 18.x", n.Name, v)
		}
		want := "replica\t" + n.Name + "\nshard\t" + strconv.Itoa(n.Shard)
		if got := mustQuery(t, n, "SELECT macro, substitution FROM system.macros ORDER BY macro"); got != want {
			t.Errorf("%s: macros\n%s\nwant\n%s", n.Name, got, want)
		}
		var want2 strings.Builder
		for _, m := range c.Nodes {
			_, port, _ := net.SplitHostPort(m.TCPAddr)
			want2.WriteString(strconv.Itoa(m.Shard) + "\t" + port + "\n")
		}
		if got := mustQuery(t, n, "SELECT shard_num, port FROM system.clusters WHERE cluster = '"+Name+"' ORDER BY shard_num, replica_num"); got != strings.TrimSpace(want2.String()) {
			t.Errorf("%s: cluster %s\n%s\nwant\n%s", n.Name, Name, got, want2.String())
		}
		if got := mustQuery(t, n, "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse' AND name = 'task_queue'"); got != "1" {
			t.Errorf("%s: /clickhouse/task_queue in ZooKeeper: %s", n.Name, got)
		}
		t.Logf("%s shard %d: tcp %s http %s pid %d", n.Name, n.Shard, n.TCPAddr, n.HTTPAddr, n.Pid())
	}
}

// TestOnClusterSchema checks that one ON CLUSTER statement made each table on every node,
// and that each replicated table has both replicas of its shard registered.
func TestOnClusterSchema(t *testing.T) {
	start := time.Now()
	createSchema(t, "ddl")
	t.Logf("%d ON CLUSTER statements in %v", len(clusterSchema("ddl")), time.Since(start).Round(time.Millisecond))
	createSchema(t, "ddl") // IF NOT EXISTS: an upgrade run again must not fail
	want := strings.Join([]string{
		"history\tView",
		"history_by_name\tDistributed",
		"history_by_name_local\tReplicatedAggregatingMergeTree",
		"history_by_name_mv\tMaterializedView",
		"responses\tDistributed",
		"responses_local\tReplicatedMergeTree",
	}, "\n")
	for _, n := range c.Nodes {
		if got := mustQuery(t, n, "SELECT name, engine FROM system.tables WHERE database = 'ddl' ORDER BY name"); got != want {
			t.Errorf("%s: tables\n%s\nwant\n%s", n.Name, got, want)
		}
		want := "history_by_name_local\t/clickhouse/tables/" + strconv.Itoa(n.Shard) + "/ddl/history_by_name_local\t2\t2\n" +
			"responses_local\t/clickhouse/tables/" + strconv.Itoa(n.Shard) + "/ddl/responses_local\t2\t2"
		if got := mustQuery(t, n, "SELECT table, zookeeper_path, total_replicas, active_replicas FROM system.replicas WHERE database = 'ddl' ORDER BY table"); got != want {
			t.Errorf("%s: replicas\n%s\nwant\n%s", n.Name, got, want)
		}
	}
}

// TestDedup checks the exactly-once mechanics the writer relies on: a retried block is
// stored once by the replicated engine, in the raw table and, through the materialized
// view, in the history table, whichever replica of the shard the retry reaches.
func TestDedup(t *testing.T) {
	createSchema(t, "dedup")
	shard := c.Shard(1)
	type insert struct {
		replica int // index into shard
		tag     string
	}
	tests := []struct {
		name     string
		inserts  []insert
		wantRows int
	}{
		{"retry on the same replica", []insert{{0, "a"}, {0, "a"}}, 10},
		{"retry on the other replica", []insert{{0, "b"}, {1, "b"}}, 10},
		{"three tries, both replicas", []insert{{1, "c"}, {0, "c"}, {1, "c"}}, 10},
		{"different blocks are kept", []insert{{0, "d"}, {0, "e"}}, 20}, // the control
	}
	total := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range tt.inserts {
				mustQuery(t, shard[in.replica], block("dedup", in.tag, 10, 1))
			}
			total += tt.wantRows
			for _, n := range shard {
				mustQuery(t, n, "SYSTEM SYNC REPLICA dedup.responses_local")
				mustQuery(t, n, "SYSTEM SYNC REPLICA dedup.history_by_name_local")
			}
			for _, n := range shard {
				if got := mustQuery(t, n, "SELECT count() FROM dedup.responses_local"); got != strconv.Itoa(total) {
					t.Errorf("%s: %s rows, want %d", n.Name, got, total)
				}
				// Each raw row answers once: the history counts add up to the raw rows.
				if got := mustQuery(t, n, "SELECT countMerge(count) FROM dedup.history_by_name_local"); got != strconv.Itoa(total) {
					t.Errorf("%s: history counts add up to %s, want %d", n.Name, got, total)
				}
			}
		})
	}
}

// TestDistributedRead writes different blocks to the two shards and reads them back whole
// through the Distributed tables and the history view from every node.
func TestDistributedRead(t *testing.T) {
	createSchema(t, "dist")
	mustQuery(t, c.Shard(1)[0], block("dist", "s1", 30, 1)) // shared.example. on Dec 1
	mustQuery(t, c.Shard(2)[1], block("dist", "s2", 20, 3)) // and on Dec 3
	for _, n := range c.Nodes {
		mustQuery(t, n, "SYSTEM SYNC REPLICA dist.responses_local")
		mustQuery(t, n, "SYSTEM SYNC REPLICA dist.history_by_name_local")
	}
	for _, n := range c.Nodes {
		if got := mustQuery(t, n, "SELECT sensor, count() FROM dist.responses GROUP BY sensor ORDER BY sensor"); got != "s1\t30\ns2\t20" {
			t.Errorf("%s: responses by sensor\n%s\nwant s1 30, s2 20", n.Name, got)
		}
		// One name answered on both shards: the view merges the states of both.
		if got := mustQuery(t, n, "SELECT time_first, time_last, count FROM dist.history WHERE rrname = 'shared.example.'"); got != "2026-12-01 10:00:00\t2026-12-03 10:00:00\t2" {
			t.Errorf("%s: history of shared.example.: %q", n.Name, got)
		}
		if got := mustQuery(t, n, "SELECT count(), sum(count) FROM dist.history"); got != "49\t50" {
			t.Errorf("%s: history rows and counts: %q, want 49 and 50", n.Name, got)
		}
	}
}

// TestDistributedInsertRetry sends the same batch three times through a Distributed table
// (synchronously) and counts what was stored: with rand() as the sharding key each try splits
// the batch differently, so the blocks differ and the retries are stored again; with a key
// computed from the rows the split is the same and each shard's replicated table drops the
// repeats. A writer that retries through Distributed needs such a key.
func TestDistributedInsertRetry(t *testing.T) {
	createSchema(t, "dins")
	const rows = 40
	tests := []struct {
		key       string
		wantTotal func(int) bool
		want      string
	}{
		{"rand()", func(n int) bool { return n > rows }, "more than one batch"},
		{"cityHash64(qname)", func(n int) bool { return n == rows }, "one batch"},
	}
	for i, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			dist := "dist" + strconv.Itoa(i)
			mustQuery(t, c.Nodes[0], "CREATE TABLE dins."+dist+" ON CLUSTER "+Name+" AS dins.responses_local ENGINE = Distributed("+Name+", dins, responses_local, "+tt.key+")")
			mustQuery(t, c.Nodes[0], "TRUNCATE TABLE dins.responses_local ON CLUSTER "+Name)
			insert := strings.Replace(block("dins", "retry", rows, 1), "dins.responses_local", "dins."+dist, 1)
			for range 3 {
				// 18.16 has no INSERT ... SETTINGS; the HTTP interface takes settings as parameters.
				if err := postWithSettings(c.Nodes[0], insert, "insert_distributed_sync=1"); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range c.Nodes {
				mustQuery(t, n, "SYSTEM SYNC REPLICA dins.responses_local")
			}
			got, err := strconv.Atoi(mustQuery(t, c.Nodes[3], "SELECT count() FROM dins."+dist))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("sharding key %s: three tries of %d rows stored %d", tt.key, rows, got)
			if !tt.wantTotal(got) {
				t.Errorf("stored %d rows, want %s of %d", got, tt.want, rows)
			}
		})
	}
}

// postWithSettings runs an INSERT with settings as URL parameters.
func postWithSettings(n *Node, sql, settings string) error {
	resp, err := http.Post("http://"+n.HTTPAddr+"/?"+settings, "text/plain", strings.NewReader(sql))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", n.Name, resp.StatusCode, body)
	}
	return nil
}

// TestKillReplica kills one replica with SIGKILL while the other takes a stream of inserts
// (so the victim dies while fetching parts), restarts it at once, and measures when it takes
// writes again and when it holds every row, raw and history.
func TestKillReplica(t *testing.T) {
	createSchema(t, "kill")
	live, victim := c.Shard(1)[0], c.Shard(1)[1]
	mustQuery(t, live, block("kill", "before", 10, 1))
	mustQuery(t, victim, "SYSTEM SYNC REPLICA kill.responses_local")

	stop := make(chan struct{})
	loaded := make(chan int)
	var loadErr error // read after <-loaded
	go func() {
		n := 0
		defer func() { loaded <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := live.Query(block("kill", "load"+strconv.Itoa(n), 10, 1)); err != nil {
				loadErr = err
				return
			}
			n++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	victim.Kill()
	killed := time.Now()
	time.Sleep(500 * time.Millisecond)
	// Reads through Distributed fail over to the live replica.
	for _, n := range []*Node{live, c.Shard(2)[0]} {
		if got, err := strconv.Atoi(mustQuery(t, n, "SELECT count() FROM kill.responses")); err != nil || got < 10 {
			t.Errorf("%s: %d rows through Distributed with %s down (%v), want at least 10", n.Name, got, victim.Name, err)
		}
	}

	began := time.Now()
	if err := victim.Restart(); err != nil {
		close(stop)
		<-loaded
		t.Fatal(err)
	}
	restarted := time.Now()
	t.Logf("%s answered /ping %v after the restart began (%v after the kill)", victim.Name,
		restarted.Sub(began).Round(time.Millisecond), restarted.Sub(killed).Round(time.Millisecond))

	deadline := restarted.Add(45 * time.Second)
	var writable time.Duration
	var firstErr error
	for writable == 0 && time.Now().Before(deadline) {
		if _, err := victim.Query(block("kill", "after", 10, 1)); err == nil {
			writable = time.Since(restarted)
		} else if firstErr == nil {
			firstErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	loads := <-loaded
	if loadErr != nil {
		t.Errorf("insert into the live replica failed: %v", loadErr)
	}
	if firstErr != nil {
		t.Logf("first insert error after the restart: %v", firstErr)
	}
	if writable == 0 {
		t.Fatalf("%s took no writes within 45 s of its restart\n%s", victim.Name, victim.ErrorLogTail())
	}
	want := strconv.Itoa(10 * (loads + 2)) // before, the load, after
	const counts = "SELECT (SELECT count() FROM kill.responses_local), (SELECT countMerge(count) FROM kill.history_by_name_local)"
	var caughtUp time.Duration
	for caughtUp == 0 && time.Now().Before(deadline) {
		if got, err := victim.Query(counts); err == nil && strings.TrimSpace(got) == want+"\t"+want {
			caughtUp = time.Since(restarted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if caughtUp == 0 {
		got, _ := victim.Query(counts)
		t.Fatalf("%s has %q rows (raw, history) 45 s after its restart, want %s\n%s", victim.Name, strings.TrimSpace(got), want, victim.ErrorLogTail())
	}
	t.Logf("%d inserts of 10 rows into %s meanwhile; %s took writes %v and had every row %v after it answered /ping",
		loads, live.Name, victim.Name, writable.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
	mustQuery(t, live, "SYSTEM SYNC REPLICA kill.responses_local")
	mustQuery(t, live, "SYSTEM SYNC REPLICA kill.history_by_name_local")
	if got := mustQuery(t, live, counts); got != want+"\t"+want {
		t.Errorf("%s: %q rows (raw, history), want %s", live.Name, got, want)
	}
}

// TestZooKeeperLoss takes ZooKeeper away (stopped, then paused), checks that inserts into
// replicated tables fail with a code a writer must retry, that reads still work, and that
// the retry succeeds (once) when ZooKeeper is back.
func TestZooKeeperLoss(t *testing.T) {
	createSchema(t, "zk")
	n := c.Shard(1)[0]
	mustQuery(t, n, block("zk", "before", 10, 1))
	// A Distributed read may go to either replica of shard 1; without ZooKeeper the other
	// replica can no longer fetch the part, so it must have it before ZooKeeper goes.
	mustQuery(t, c.Shard(1)[1], "SYSTEM SYNC REPLICA zk.responses_local")
	tests := []struct {
		name      string
		away      func()
		back      func() error
		wantCodes []string // what the first failed insert may say
	}{
		// 242 TABLE_IS_READ_ONLY, 225 NO_ZOOKEEPER ("session has been expired"),
		// 999 KEEPER_EXCEPTION ("Connection loss"): all mean "retry later".
		{"stopped", c.ZooKeeper.Stop, c.ZooKeeper.Start, []string{"242", "225", "999"}},
		{"paused", c.ZooKeeper.Pause, func() error { c.ZooKeeper.Resume(); return nil }, []string{"999", "242", "225"}},
	}
	rows := 10
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.away()
			insert := block("zk", tt.name, 10, 1)
			_, err := n.Query(insert)
			if err == nil {
				tt.back()
				t.Fatal("an insert into a replicated table succeeded without ZooKeeper")
			}
			t.Logf("insert with ZooKeeper %s: %v", tt.name, err)
			if code := errorCode(err); !contains(tt.wantCodes, code) {
				t.Errorf("error code %q, want one of %v", code, tt.wantCodes)
			}
			// The plugin's path: a clickhouse-go batch over the native protocol, where the code
			// arrives as a *clickhouse.Exception.
			err = nativeBatch(n, "native-"+tt.name)
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || !contains(tt.wantCodes, strconv.Itoa(int(ex.Code))) {
				t.Errorf("native batch with ZooKeeper %s: %v (%T), want a *clickhouse.Exception with a code in %v", tt.name, err, err, tt.wantCodes)
			} else {
				t.Logf("native batch with ZooKeeper %s: code %d %s", tt.name, ex.Code, ex.Name)
			}
			// Reads need no ZooKeeper.
			if got := mustQuery(t, c.Shard(2)[0], "SELECT count() FROM zk.responses"); got != strconv.Itoa(rows) {
				t.Errorf("read through Distributed without ZooKeeper: %s rows, want %d", got, rows)
			}
			if err := tt.back(); err != nil {
				t.Fatal(err)
			}
			back := time.Now()
			var codes []string
			for {
				_, err = n.Query(insert)
				if err == nil {
					break
				}
				if code := errorCode(err); !contains(codes, code) {
					codes = append(codes, code)
				}
				if time.Since(back) > 45*time.Second {
					t.Fatalf("inserts still fail 45 s after ZooKeeper came back: %v", err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Logf("insert succeeded %v after ZooKeeper came back (error codes meanwhile: %v)", time.Since(back).Round(time.Millisecond), codes)
			if err := nativeBatch(n, "native-"+tt.name); err != nil {
				t.Errorf("native batch after ZooKeeper came back: %v", err)
			}
			rows += 10 + 3
			mustQuery(t, c.Shard(1)[1], insert) // the same block once more, on the other replica
			mustQuery(t, c.Shard(1)[1], "SYSTEM SYNC REPLICA zk.responses_local")
			if got := mustQuery(t, c.Shard(1)[1], "SELECT count() FROM zk.responses_local"); got != strconv.Itoa(rows) {
				t.Errorf("%s rows after the retries, want %d", got, rows)
			}
		})
	}
}

// nativeBatch inserts three rows into zk.responses_local of n with a clickhouse-go batch.
func nativeBatch(n *Node, tag string) error {
	opts, err := clickhouse.ParseDSN(n.DSN("zk"))
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO zk.responses_local (time, time_ms, sensor, qname, qtype)")
	if err != nil {
		return err
	}
	for i := range 3 {
		at := time.Date(2026, 12, 1, 10, 0, i, 0, time.UTC)
		if err := batch.Append(at, uint16(i), tag, fmt.Sprintf("%s-%d.example.", tag, i), "A"); err != nil {
			return err
		}
	}
	return batch.Send()
}

// TestLifecycle starts a second cluster, stops it and checks that no process is left:
// the figures for `make test` and for scripts/cluster.sh users.
func TestLifecycle(t *testing.T) {
	c2, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster started in %v (%s)", c2.StartTime.Round(time.Millisecond), c2.StartSteps)
	pids := c2.Pids()
	if len(pids) != 1+nodes {
		c2.Stop()
		t.Fatalf("%d processes, want %d", len(pids), 1+nodes)
	}
	start := time.Now()
	c2.Stop()
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (%v)", pid, err)
		}
	}
	for _, addr := range []string{c2.ZooKeeper.Addr, c2.Nodes[0].TCPAddr, c2.Nodes[3].HTTPAddr} {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Stop", addr)
		}
	}
}

var codeRE = regexp.MustCompile(`Code: (\d+)`)

// errorCode is the ClickHouse error code in err, or "" when there is none.
func errorCode(err error) string {
	if m := codeRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
