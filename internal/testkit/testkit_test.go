package testkit

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"
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
