package testkit

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestFreePortsDistinctAndFree(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d is not free after FreePorts: %v", p, err)
			continue
		}
		ln.Close()
	}
}

func TestFreePortTCPAndUDP(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
}

func TestWaitForPollsUntilTrue(t *testing.T) {
	var n atomic.Int32
	took := WaitFor(t, "the third call", time.Second, func() bool { return n.Add(1) == 3 })
	if n.Load() != 3 || took <= 0 || took > time.Second {
		t.Errorf("%d calls in %v; want 3 within a second", n.Load(), took)
	}
}

func TestAbbrev(t *testing.T) {
	if got := Abbrev("SELECT\n\t1,\n  2"); got != "SELECT 1, 2" {
		t.Errorf("Abbrev = %q", got)
	}
	long := Abbrev("SELECT " + strings.Repeat("x, ", 50))
	if len(long) != 80 || !strings.HasSuffix(long, "...") {
		t.Errorf("Abbrev of a long statement = %q (%d bytes)", long, len(long))
	}
}

// TestPauseStopsTheProcess: Pause returns once the process is seen stopped, and it runs
// again after SIGCONT; a process that does not run is never reported stopped.
func TestPauseStopsTheProcess(t *testing.T) {
	var p Process
	// A shell running a few children in its group: the group leader is what Pause watches,
	// and SIGSTOP goes to the whole group.
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	if _, err := p.Start(cmd, filepath.Join(t.TempDir(), "log")); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	if !p.Pause(5 * time.Second) {
		t.Fatal("Pause: the process did not stop")
	}
	if !allStopped(p.Pid()) {
		t.Fatal("not stopped after Pause returned")
	}
	p.Signal(syscall.SIGCONT)
	WaitFor(t, "the process to run again after SIGCONT", 5*time.Second, func() bool { return !allStopped(p.Pid()) })
	var gone Process
	if gone.Pause(100 * time.Millisecond) {
		t.Error("Pause reported a process that never ran as stopped")
	}
}
