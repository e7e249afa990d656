package clustertest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/passivedns/passivedns/internal/testkit"
)

// Debian's zookeeper package: the server jar (its manifest names the other jars) and
// slf4j-simple, a dependency, so that ZooKeeper writes a log instead of nothing.
const (
	zkJar     = "/usr/share/java/zookeeper.jar"
	zkLogJar  = "/usr/share/java/slf4j-simple.jar"
	zkMain    = "org.apache.zookeeper.server.ZooKeeperServerMain"
	zkHeap    = "-Xmx128m"
	zkTimeout = 30 * time.Second // until srvr says it serves
)

// ZooKeeper is a standalone ZooKeeper server run as a child process.
type ZooKeeper struct {
	// Addr is the client address, "127.0.0.1:port".
	Addr string
	// Dir holds zoo.cfg, data/ and zookeeper.log.
	Dir string

	java string
	proc testkit.Process
}

func newZooKeeper(dir string, port int) (*ZooKeeper, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("clustertest: java not found: run scripts/deps.sh (it installs zookeeper)")
	}
	if _, err := os.Stat(zkJar); err != nil {
		return nil, fmt.Errorf("clustertest: %s not found: run scripts/deps.sh (it installs zookeeper)", zkJar)
	}
	z := &ZooKeeper{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, java: java}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("clustertest: %w", err)
	}
	cfg := renderZooCfg(dir, port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("clustertest: %w", err)
	}
	return z, nil
}

// Start starts ZooKeeper (again, with the same data and port) and waits until it answers
// srvr. It does nothing when ZooKeeper is running.
func (z *ZooKeeper) Start() error {
	if _, ok := z.proc.Running(); ok {
		return nil
	}
	// Serial GC and the client compiler: a small JVM that starts in about a second.
	cmd := exec.Command(z.java, zkHeap, "-XX:-UsePerfData", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", zkJar+":"+zkLogJar, zkMain, filepath.Join(z.Dir, "zoo.cfg"))
	cmd.Dir = z.Dir
	done, err := z.proc.Start(cmd, filepath.Join(z.Dir, "zookeeper.log"))
	if err != nil {
		return fmt.Errorf("clustertest: ZooKeeper: %w", err)
	}

	deadline := time.Now().Add(zkTimeout)
	for !z.ok() {
		select {
		case <-done:
			return fmt.Errorf("clustertest: ZooKeeper exited during start\n%s", z.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			z.Kill()
			return fmt.Errorf("clustertest: ZooKeeper did not serve on %s within %v\n%s", z.Addr, zkTimeout, z.LogTail())
		}
	}
	return nil
}

// Stop ends ZooKeeper with SIGTERM (SIGKILL after 30 s) and waits until it has exited.
func (z *ZooKeeper) Stop() { z.proc.Stop(30 * time.Second) }

// Kill ends ZooKeeper with SIGKILL and waits until it has exited.
func (z *ZooKeeper) Kill() { z.proc.Kill() }

// Pause stops ZooKeeper with SIGSTOP: connections stay open, nothing answers. It returns
// once every thread of the JVM has stopped (30 s at most; the tests then see ZooKeeper
// answer, and fail).
func (z *ZooKeeper) Pause() { z.proc.Pause(30 * time.Second) }

// Resume continues a paused ZooKeeper.
func (z *ZooKeeper) Resume() { z.proc.Signal(syscall.SIGCONT) }

// Pid returns the JVM's process id, or 0 when ZooKeeper is not running.
func (z *ZooKeeper) Pid() int { return z.proc.Pid() }

// LogTail returns the last lines of zookeeper.log, for failure messages.
func (z *ZooKeeper) LogTail() string {
	path := filepath.Join(z.Dir, "zookeeper.log")
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")\n"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "--- tail of " + path + "\n" + strings.Join(lines, "\n") + "\n"
}

// ok sends the four-letter word srvr: ruok answers imok as soon as the process listens,
// before the server takes sessions ("ZooKeeperServer not running"), and a ClickHouse node
// whose first connection is refused so can crash; srvr says "Mode:" only once it serves.
func (z *ZooKeeper) ok() bool {
	conn, err := net.DialTimeout("tcp", z.Addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return false
	}
	out, _ := io.ReadAll(conn)
	return strings.Contains(string(out), "Mode: standalone")
}
