package clustertest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
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
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
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
	if _, ok := z.running(); ok {
		return nil
	}
	out, err := os.OpenFile(filepath.Join(z.Dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	// Serial GC and the client compiler: a small JVM that starts in about a second.
	cmd := exec.Command(z.java, zkHeap, "-XX:-UsePerfData", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", zkJar+":"+zkLogJar, zkMain, filepath.Join(z.Dir, "zoo.cfg"))
	cmd.Dir = z.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("clustertest: starting ZooKeeper: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	z.mu.Lock()
	z.cmd, z.done = cmd, done
	z.mu.Unlock()

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
func (z *ZooKeeper) Stop() {
	done, ok := z.running()
	if !ok {
		return
	}
	z.signal(syscall.SIGTERM)
	z.signal(syscall.SIGCONT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		z.signal(syscall.SIGKILL)
		<-done
	}
}

// Kill ends ZooKeeper with SIGKILL and waits until it has exited.
func (z *ZooKeeper) Kill() {
	done, ok := z.running()
	if !ok {
		return
	}
	z.signal(syscall.SIGKILL)
	<-done
}

// Pause stops ZooKeeper with SIGSTOP: connections stay open, nothing answers.
func (z *ZooKeeper) Pause() { z.signal(syscall.SIGSTOP) }

// Resume continues a paused ZooKeeper.
func (z *ZooKeeper) Resume() { z.signal(syscall.SIGCONT) }

// Pid returns the JVM's process id, or 0 when ZooKeeper is not running.
func (z *ZooKeeper) Pid() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd == nil || isClosed(z.done) {
		return 0
	}
	return z.cmd.Process.Pid
}

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

func (z *ZooKeeper) running() (<-chan struct{}, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd == nil || isClosed(z.done) {
		return nil, false
	}
	return z.done, true
}

func (z *ZooKeeper) signal(sig syscall.Signal) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cmd == nil || isClosed(z.done) {
		return
	}
	_ = syscall.Kill(-z.cmd.Process.Pid, sig)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
