package e2e

import (
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

const (
	startTimeout = 15 * time.Second // until CoreDNS prints its version banner
	stopTimeout  = 15 * time.Second // after SIGTERM (passivedns flushes), before SIGKILL
	startTries   = 3                // new port when another process took ours
	logLines     = 60               // of a server's output shown when a test fails
)

// coreDNS is one CoreDNS child process with its Corefile and captured output.
type coreDNS struct {
	name     string
	port     int
	addr     string // 127.0.0.1:port, UDP and TCP
	corefile string // path

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid once done is closed
}

// startCoreDNS writes the Corefile that corefile returns for a free loopback port into dir
// and runs CoreDNS with it there. It returns once CoreDNS has printed its banner, which
// it does after every server listens. The process is stopped at the end of the test, and
// its output is logged when the test failed.
func startCoreDNS(t *testing.T, name, dir string, corefile func(port int) string) *coreDNS {
	t.Helper()
	var last string
	for try := 0; try < startTries; try++ {
		port := freePort(t)
		c := &coreDNS{
			name:     name,
			port:     port,
			addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			corefile: filepath.Join(dir, "Corefile."+name),
			out:      new(syncBuffer),
			done:     make(chan struct{}),
		}
		if err := os.WriteFile(c.corefile, []byte(corefile(port)), 0o644); err != nil {
			t.Fatal(err)
		}
		c.cmd = exec.Command(corednsBin, "-conf", c.corefile)
		c.cmd.Dir = dir
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		// Own process group; SIGKILL if the test binary dies, so nothing is left behind.
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := c.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		go func() { c.err = c.cmd.Wait(); close(c.done) }()

		deadline := time.After(startTimeout)
		for !strings.Contains(c.out.String(), "CoreDNS-") {
			select {
			case <-c.done:
			case <-deadline:
				c.stop()
				t.Fatalf("%s did not start within %v; output:\n%s", name, startTimeout, c.out)
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
		if !c.exited() {
			t.Cleanup(func() {
				c.stop()
				if t.Failed() {
					t.Logf("--- output of %s (%s, %s):\n%s", name, c.addr, c.corefile, tail(c.out.String(), logLines))
				}
			})
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

func (c *coreDNS) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process (not its group: CoreDNS has no children).
func (c *coreDNS) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", c.name, err)
	}
}

// stop ends CoreDNS with SIGTERM, which runs the shutdown hooks (passivedns flushes), and
// with SIGKILL if it has not exited after stopTimeout.
func (c *coreDNS) stop() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
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
// a mix: CoreDNS's file plugin may re-read the zone at any moment.
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
