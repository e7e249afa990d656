package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a server process a test helper runs (clickhouse-server, ZooKeeper): in a
// process group of its own, so signals reach only it and its children, and killed when the
// test binary dies, so a crashed or timed-out test leaves nothing behind. It can be started
// again after it exited. The zero value is ready to use.
type Process struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error         // cmd.Wait's result, once done is closed
}

// Start runs cmd with its standard output and error appended to logPath and returns once
// it runs, with the channel closed when it exits; the caller waits for it to serve.
func (p *Process) Start(cmd *exec.Cmd, logPath string) (<-chan struct{}, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return done, nil
}

// Running returns the channel closed when the process exits, while it runs.
func (p *Process) Running() (<-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return nil, false
	}
	return p.done, true
}

// ExitError is how the last run ended (nil while it runs, or when it exited cleanly).
func (p *Process) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Signal sends sig to the process group, if it runs.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Pause stops the process group with SIGSTOP and waits, up to timeout, until every thread
// of the process has stopped; it reports whether they all did. kill returns before the
// kernel has stopped every thread of a process, and a thread still running can answer a
// request meanwhile (a paused ClickHouse answered one once in CI).
func (p *Process) Pause(timeout time.Duration) bool {
	p.Signal(syscall.SIGSTOP)
	pid := p.Pid()
	if pid == 0 {
		return false
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
		if allStopped(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// allStopped reports whether every thread of pid is in the stopped state ('T' in
// /proc/PID/task/TID/stat, after the command name in parentheses).
func allStopped(pid int) bool {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		stat, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			return false // a thread that ended between the two reads: look again
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			return false
		}
	}
	return true
}

// Stop ends the process with SIGTERM, and SIGKILL if it has not exited after timeout, and
// waits until it has. It also resumes a paused process, which could not handle SIGTERM
// otherwise.
func (p *Process) Stop(timeout time.Duration) {
	done, ok := p.Running()
	if !ok {
		return
	}
	p.Signal(syscall.SIGTERM)
	p.Signal(syscall.SIGCONT)
	select {
	case <-done:
	case <-time.After(timeout):
		p.Signal(syscall.SIGKILL)
		<-done
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it has exited.
func (p *Process) Kill() {
	done, ok := p.Running()
	if !ok {
		return
	}
	p.Signal(syscall.SIGKILL)
	<-done
}

// Pid is the process id, or 0 when it does not run.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
