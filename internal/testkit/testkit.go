// Package testkit holds the few small helpers every test package needs: polling for a
// condition, free loopback ports, short SQL for failure messages, and the handling of the
// server processes tests run. It imports only the
// standard library, so the pure packages can use it without pulling in a server helper.
package testkit

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond until it holds and returns how long that took; the test fails after
// timeout, saying what it waited for. It polls often for short timeouts and at most every
// 100 ms for long ones, so a slow component is not hammered.
func WaitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	every := min(max(timeout/200, 5*time.Millisecond), 100*time.Millisecond)
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
	return time.Since(start)
}

// FreePorts returns n distinct loopback TCP ports that were free a moment ago. Each is held
// open until all are chosen, so they differ.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort returns a loopback port that was free for both TCP and UDP a moment ago, as a
// DNS server needs.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	tb.Fatal("no loopback port free for both TCP and UDP")
	return 0
}

// Abbrev is sql on one line, cut to 80 bytes, for error messages.
func Abbrev(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 80 {
		return sql[:77] + "..."
	}
	return sql
}
