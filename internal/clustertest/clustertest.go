// Package clustertest runs a ClickHouse cluster for the tests of this module: Debian's
// ZooKeeper and four clickhouse-server 18.16 processes on loopback, 2 shards x 2 replicas,
// named Name ("passivedns") in every node's remote_servers.
//
// Each node is a chtest.Server: the project's one config.xml plus config.d/cluster.xml from
// server/cluster.xml (macros {shard} and {replica}, the zookeeper section, distributed_ddl and
// remote_servers with internal_replication), the same file scripts/cluster.sh uses. Nodes 1
// and 2 are shard 1, nodes 3 and 4 shard 2; a node's replica name is its Name. Every process
// runs in its own process group and dies with the test binary.
//
// A typical TestMain:
//
//	var c *clustertest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(clustertest.Main(m, &c)) }
//
// There is no skipping: when the cluster cannot start, the tests fail and say why.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/chtest"
	"github.com/passivedns/passivedns/internal/testkit"
)

// Name is the name of the cluster in remote_servers, for ON CLUSTER and Distributed.
const Name = "passivedns"

// SessionTimeout is the nodes' ZooKeeper session timeout. A node restarted after a kill -9
// within this time finds its old session's is_active node and retries replication only
// every 10 s (fixed in 18.16); after it, the restarted replica starts at once.
const SessionTimeout = 3 * time.Second

const (
	nodes        = 4
	readyTimeout = 60 * time.Second // until ON CLUSTER runs on every node
)

// Cluster is a running ZooKeeper with four ClickHouse nodes.
type Cluster struct {
	// Dir holds zookeeper/ and node1/ to node4/.
	Dir       string
	ZooKeeper *ZooKeeper
	// Nodes are node1 to node4: shard 1 is Nodes[0:2], shard 2 is Nodes[2:4].
	Nodes []*Node
	// StartTime is how long Start took, until ON CLUSTER worked on every node.
	StartTime time.Duration
	// StartSteps says where StartTime went, for the test log.
	StartSteps string
}

// Node is one clickhouse-server of the cluster. chtest.Server gives its addresses, Query,
// Kill (SIGKILL), Stop, Restart (same ports and data), Pause and Resume.
type Node struct {
	*chtest.Server
	// Name is "node1" to "node4", also the node's {replica} macro.
	Name string
	// Shard is 1 or 2, the node's {shard} macro.
	Shard int
}

type ports struct {
	zk          int
	tcp, http   []int
	interserver []int
}

// Shard returns the two replicas of shard s (1 or 2).
func (c *Cluster) Shard(s int) []*Node { return c.Nodes[2*(s-1) : 2*s] }

// Start starts ZooKeeper and the four nodes in dir, on free loopback ports, and waits until
// an ON CLUSTER statement has run on every node.
func Start(dir string) (*Cluster, error) {
	began := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("clustertest: %w", err)
	}
	p, err := freePorts()
	if err != nil {
		return nil, fmt.Errorf("clustertest: finding free ports: %w", err)
	}
	c := &Cluster{Dir: dir}
	if c.ZooKeeper, err = newZooKeeper(filepath.Join(dir, "zookeeper"), p.zk); err != nil {
		return nil, err
	}
	if err := c.ZooKeeper.Start(); err != nil {
		return nil, err
	}
	var steps []string
	step := began
	lap := func(what string) {
		steps = append(steps, fmt.Sprintf("%s %v", what, time.Since(step).Round(10*time.Millisecond)))
		step = time.Now()
	}
	lap("zookeeper")
	c.Nodes = make([]*Node, nodes)
	// Node1 first, alone: 18.16 can crash (SIGSEGV in zkutil::ZooKeeper::createImpl from
	// its DDL worker) when several nodes start at once on a fresh ZooKeeper. The others then
	// start in parallel: each spends most of its second waiting.
	if err := c.startNode(0, p); err != nil {
		c.Stop()
		return nil, err
	}
	lap("node1")
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := 1; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.startNode(i, p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Stop()
		return nil, err
	}
	lap("node2-4")
	if err := c.waitReady(); err != nil {
		c.Stop()
		return nil, err
	}
	lap("first ON CLUSTER")
	c.StartTime = time.Since(began)
	c.StartSteps = strings.Join(steps, ", ")
	return c, nil
}

// startTries is how often a node is started before Start gives up: 18.16's DDL worker can
// crash (SIGSEGV in zkutil::ZooKeeper::createImpl) when its first ZooKeeper connection
// fails, which a fresh ZooKeeper under load sometimes makes it do.
const startTries = 3

// startNode starts c.Nodes[i].
func (c *Cluster) startNode(i int, p ports) error {
	n := i + 1
	var err error
	for try := 0; try < startTries; try++ {
		var s *chtest.Server
		s, err = chtest.StartWith(filepath.Join(c.Dir, nodeName(n)), chtest.Options{
			TCPPort:  p.tcp[i],
			HTTPPort: p.http[i],
			ConfigD:  map[string]string{"cluster.xml": renderClusterXML(n, p)},
		})
		if err == nil {
			c.Nodes[i] = &Node{Server: s, Name: nodeName(n), Shard: shardOf(n)}
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%s: %w", nodeName(n), err)
}

// waitReady runs a harmless ON CLUSTER statement until it succeeds: that needs ZooKeeper,
// every node's DDL worker and every node's view of the cluster.
func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var err error
	restarts := 0
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes {
			if n.Pid() != 0 {
				continue
			}
			// The DDL worker crash of startNode, a little later.
			if restarts++; restarts >= startTries {
				return fmt.Errorf("clustertest: %s exited\n%s", n.Name, n.ErrorLogTail())
			}
			if rerr := n.Restart(); rerr != nil {
				return fmt.Errorf("clustertest: %s exited and did not restart: %v\n%s", n.Name, rerr, n.ErrorLogTail())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err = c.Nodes[0].QueryContext(ctx, "CREATE DATABASE IF NOT EXISTS cluster_probe ON CLUSTER "+Name)
		if err == nil {
			_, err = c.Nodes[0].QueryContext(ctx, "DROP DATABASE IF EXISTS cluster_probe ON CLUSTER "+Name)
		}
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("clustertest: ON CLUSTER did not work within %v: %w\n%s", readyTimeout, err, c.Nodes[0].ErrorLogTail())
}

// Stop ends the nodes (in parallel) and then ZooKeeper, and waits until all have exited.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Stop()
		}()
	}
	wg.Wait()
	if c.ZooKeeper != nil {
		c.ZooKeeper.Stop()
	}
}

// Pids returns the process ids of ZooKeeper and the nodes that are running.
func (c *Cluster) Pids() []int {
	var pids []int
	if pid := c.ZooKeeper.Pid(); pid != 0 {
		pids = append(pids, pid)
	}
	for _, n := range c.Nodes {
		if pid := n.Pid(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// LogTails returns the error log tails of every node and ZooKeeper's log tail.
func (c *Cluster) LogTails() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		if n != nil {
			b.WriteString(n.ErrorLogTail())
		}
	}
	if c.ZooKeeper != nil {
		b.WriteString(c.ZooKeeper.LogTail())
	}
	return b.String()
}

// Main is a TestMain helper like chtest.Main: it starts a cluster in a new temporary folder,
// stores it in *c, runs the tests, stops the cluster and returns the exit code. The folder is
// removed when the tests pass and kept, with the logs' tails printed, when they fail.
func Main(m *testing.M, c **Cluster) int {
	dir, err := os.MkdirTemp("", "clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	cl, err := Start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "clustertest: the cluster tests need clickhouse-server and zookeeper: run scripts/deps.sh; folder kept at", dir)
		return 1
	}
	*c = cl
	code := m.Run()
	cl.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "clustertest: tests failed; cluster folder kept at %s\n%s", dir, cl.LogTails())
		return code
	}
	os.RemoveAll(dir)
	return code
}

func nodeName(n int) string { return fmt.Sprintf("node%d", n) }

func shardOf(n int) int { return (n-1)/2 + 1 }

// freePorts picks ZooKeeper's port and three ports per node, all distinct and free a
// moment ago.
func freePorts() (ports, error) {
	var p ports
	all, err := testkit.FreePorts(1 + 3*nodes)
	if err != nil {
		return p, err
	}
	p.zk = all[0]
	p.tcp, p.http, p.interserver = all[1:1+nodes], all[1+nodes:1+2*nodes], all[1+2*nodes:]
	return p, nil
}
