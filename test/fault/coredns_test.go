package fault

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Copied from test/e2e (a _test package, so not importable), with a restart on the same
// ports and a SIGKILL added.

const (
	startTimeout = 15 * time.Second // until CoreDNS prints its version banner
	stopTimeout  = 20 * time.Second // after SIGTERM (passivedns flushes or spools), before SIGKILL
	startTries   = 3                // new ports when another process took ours
	logLines     = 80               // of a server's output shown when a test fails
)

// coreDNS is one CoreDNS child process with its Corefile and captured output. port is
// the DNS port; http and metrics are the ports of the status listener and of prometheus
// (resolvers only).
type coreDNS struct {
	name     string
	dir      string
	port     int
	http     int
	metrics  int
	addr     string // 127.0.0.1:port, UDP and TCP
	corefile string // path

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid once done is closed
}

// corefileFunc returns a Corefile for the DNS port and the two HTTP ports.
type corefileFunc func(port, http, metrics int) string

// startCoreDNS writes the Corefile for free loopback ports into dir and runs CoreDNS with
// it there. It returns once CoreDNS has printed its banner, which it does after every
// server listens. The process is stopped at the end of the test, and its output is logged
// when the test failed.
func startCoreDNS(t *testing.T, name, dir string, corefile corefileFunc) *coreDNS {
	t.Helper()
	var last string
	for try := 0; try < startTries; try++ {
		c := &coreDNS{name: name, dir: dir, port: freePort(t), http: freePort(t), metrics: freePort(t)}
		c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
		c.corefile = filepath.Join(dir, "Corefile."+name)
		if err := os.WriteFile(c.corefile, []byte(corefile(c.port, c.http, c.metrics)), 0o644); err != nil {
			t.Fatal(err)
		}
		if c.launch(t) {
			return c
		}
		last = c.out.String()
		if !strings.Contains(last, "address already in use") {
			break
		}
	}
	t.Fatalf("%s exited during start; output:\n%s", name, last)
	return nil
}

// restart starts a stopped or killed CoreDNS again with the same Corefile and ports.
func (c *coreDNS) restart(t *testing.T) {
	t.Helper()
	if !c.exited() {
		t.Fatalf("%s: restart while it runs", c.name)
	}
	if !c.launch(t) {
		t.Fatalf("%s exited during restart; output:\n%s", c.name, tail(c.out.String(), logLines))
	}
}

// launch runs the process and waits for the banner; false if it exited first.
func (c *coreDNS) launch(t *testing.T) bool {
	t.Helper()
	c.out, c.done, c.err = new(syncBuffer), make(chan struct{}), nil
	c.cmd = exec.Command(corednsBin, "-conf", c.corefile)
	c.cmd.Dir = c.dir
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	// Own process group; SIGKILL if the test binary dies, so nothing is left behind.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", c.name, err)
	}
	done, cmd, out := c.done, c.cmd, c.out
	go func() { c.err = cmd.Wait(); close(done) }()

	deadline := time.After(startTimeout)
	for !strings.Contains(out.String(), "CoreDNS-") {
		select {
		case <-done:
			return false
		case <-deadline:
			c.stop()
			t.Fatalf("%s did not start within %v; output:\n%s", c.name, startTimeout, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		c.stopProcess(cmd, done)
		if t.Failed() {
			t.Logf("--- output of %s (%s, %s, pid %d):\n%s", c.name, c.addr, c.corefile, cmd.Process.Pid, tail(out.String(), logLines))
		}
	})
	return true
}

func (c *coreDNS) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *coreDNS) pid() int { return c.cmd.Process.Pid }

// signal sends sig to the process (not its group: CoreDNS has no children).
func (c *coreDNS) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", c.name, err)
	}
}

// kill ends CoreDNS with SIGKILL, as a crash would, and waits until it has exited.
func (c *coreDNS) kill() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop ends CoreDNS with SIGTERM, which runs the shutdown hooks (passivedns flushes or
// spools), and with SIGKILL if it has not exited after stopTimeout.
func (c *coreDNS) stop() { c.stopProcess(c.cmd, c.done) }

func (c *coreDNS) stopProcess(cmd *exec.Cmd, done chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitOutput waits until the output contains substr at least n times.
func (c *coreDNS) waitOutput(t *testing.T, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(c.out.String(), substr) < n {
		if c.exited() {
			t.Fatalf("%s exited (%v) while waiting for %q", c.name, c.err, substr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q %d times within %v", c.name, substr, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rssKiB returns the resident set size of the process from /proc/PID/status.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// freePort returns a loopback port that was free for both TCP and UDP a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return 0
}

// writeFileAtomic replaces path so that a reader sees the old or the new content, never
// a mix.
func writeFileAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail returns the last n lines of s, saying how many it left out.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("(%d lines before these)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}
