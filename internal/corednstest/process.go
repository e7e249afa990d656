package corednstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/testkit"
)

// Defaults of Binary.
const (
	DefaultStopTimeout = 15 * time.Second // after SIGTERM (passivedns flushes), before SIGKILL
	DefaultLogLines    = 60               // of a process's output logged when its test failed
)

const (
	startTimeout = 15 * time.Second // until CoreDNS prints its version banner
	startTries   = 3                // new ports when another process took ours
)

// Binary is a CoreDNS binary, built by Main or Build, and how the tests stop its processes.
type Binary struct {
	Path string // of the binary; Main sets it
	// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL; zero means
	// DefaultStopTimeout.
	StopTimeout time.Duration
	// LogLines is how many of the last lines of a process's output are logged when its test
	// failed; zero means DefaultLogLines.
	LogLines int
}

// Ports are the loopback ports of a Process: DNS (UDP and TCP), and two more, free for a
// Corefile that wants them, such as passivedns's http listener and prometheus.
type Ports struct {
	DNS, HTTP, Metrics int
}

// Process is one CoreDNS child process with its Corefile and captured output.
type Process struct {
	Name     string
	Addr     string // 127.0.0.1:Ports.DNS, UDP and TCP
	Ports    Ports
	Corefile string // path: DIR/Corefile.NAME

	dir         string
	path        string // of the binary
	stopTimeout time.Duration
	logLines    int

	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid once done is closed
}

// Start writes the Corefile that corefile returns for free loopback ports into dir, as
// Corefile.NAME, and runs CoreDNS with it there, in its own process group and killed if the
// test binary dies. It returns once CoreDNS has printed its banner, which it does after every
// server listens, and fails the test if it exits first (after trying new ports, up to three
// times, when another process took one). The process is stopped at the end of the test, and
// its output is logged when the test failed.
func (b *Binary) Start(t testing.TB, name, dir string, corefile func(Ports) string) *Process {
	t.Helper()
	var last string
	for try := 0; try < startTries; try++ {
		p := &Process{
			Name:        name,
			Ports:       Ports{DNS: testkit.FreePort(t), HTTP: testkit.FreePort(t), Metrics: testkit.FreePort(t)},
			Corefile:    filepath.Join(dir, "Corefile."+name),
			dir:         dir,
			path:        b.Path,
			stopTimeout: b.StopTimeout,
			logLines:    b.LogLines,
		}
		if p.stopTimeout == 0 {
			p.stopTimeout = DefaultStopTimeout
		}
		if p.logLines == 0 {
			p.logLines = DefaultLogLines
		}
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Ports.DNS))
		if err := os.WriteFile(p.Corefile, []byte(corefile(p.Ports)), 0o644); err != nil {
			t.Fatal(err)
		}
		if p.launch(t) {
			return p
		}
		last = p.Output()
		if !strings.Contains(last, "address already in use") {
			break
		}
	}
	t.Fatalf("%s exited during start; output:\n%s", name, last)
	return nil
}

// Restart starts a stopped or killed process again with the same Corefile and ports. Its
// output starts anew.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	if !p.Exited() {
		t.Fatalf("%s: restart while it runs", p.Name)
	}
	if !p.launch(t) {
		t.Fatalf("%s exited during restart; output:\n%s", p.Name, tail(p.Output(), p.logLines))
	}
}

// launch runs the process and waits for the banner; false if it exited first.
func (p *Process) launch(t testing.TB) bool {
	t.Helper()
	p.out, p.done, p.err = new(syncBuffer), make(chan struct{}), nil
	p.cmd = exec.Command(p.path, "-conf", p.Corefile)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Own process group; SIGKILL if the test binary dies, so nothing is left behind.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.Name, err)
	}
	done, cmd, out := p.done, p.cmd, p.out
	go func() { p.err = cmd.Wait(); close(done) }()

	deadline := time.After(startTimeout)
	for !strings.Contains(out.String(), "CoreDNS-") {
		select {
		case <-done:
			return false
		case <-deadline:
			p.Stop()
			t.Fatalf("%s did not start within %v; output:\n%s", p.Name, startTimeout, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if p.Exited() {
		return false
	}
	t.Cleanup(func() {
		p.stop(cmd, done)
		if t.Failed() {
			t.Logf("--- output of %s (%s, %s, pid %d):\n%s", p.Name, p.Addr, p.Corefile, cmd.Process.Pid, tail(out.String(), p.logLines))
		}
	})
	return true
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the error of the process's exit (nil for exit status 0); valid once Exited.
func (p *Process) Err() error { return p.err }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process has written to standard output and standard error so far.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process (not its group: CoreDNS has no children).
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", p.Name, err)
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it has exited.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop ends the process with SIGTERM, which runs the shutdown hooks (passivedns flushes or
// spools), and with SIGKILL if it has not exited after the Binary's StopTimeout.
func (p *Process) Stop() { p.stop(p.cmd, p.done) }

func (p *Process) stop(cmd *exec.Cmd, done chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(p.stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// WaitOutput waits until the output contains substr at least n times, and fails the test if
// the process exits first or timeout passes.
func (p *Process) WaitOutput(t testing.TB, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.Output(), substr) < n {
		if p.Exited() {
			t.Fatalf("%s exited (%v) while waiting for %q", p.Name, p.err, substr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q %d times within %v", p.Name, substr, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines of s, saying how many it left out.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("(%d lines before these)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}
