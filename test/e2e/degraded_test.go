package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/corednstest"
)

// TestReadyAndHealthWithClickHouseDown: with ClickHouse unreachable, CoreDNS starts,
// answers, and stays ready and healthy (DNS must keep serving); only the plugin's own
// metrics show the outage.
func TestReadyAndHealthWithClickHouseDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String() // nothing listens here once closed
	ln.Close()

	dir := t.TempDir()
	corednstest.WriteFileAtomic(t, filepath.Join(dir, "db.example.org"), zone(2024010101, "192.0.2.10"))
	auth := coredns.Start(t, "auth", dir, authCorefile)
	res := coredns.Start(t, "resolver", dir, func(p corednstest.Ports) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    passivedns clickhouse://%s/e2e_down?dial_timeout=200ms {
        flush 100ms
    }
    forward . %s
}
`, p.DNS, p.HTTP, p.Metrics, closed, auth.Addr)
	})

	x, err := query(res.Addr, "udp", "www.example.org.", dns.TypeA)
	if err != nil || x.msg.Rcode != dns.RcodeSuccess || len(x.msg.Answer) != 1 {
		t.Fatalf("query with ClickHouse down: %v %v", err, x)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(fmt.Sprintf("http://127.0.0.1:%d/ready", res.Ports.Metrics))
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready with ClickHouse down: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get(fmt.Sprintf("http://127.0.0.1:%d/health", res.Ports.HTTP)); code != 200 || strings.TrimSpace(body) != "OK" {
		t.Errorf("/health with ClickHouse down: %d %q", code, body)
	}
	if !strings.Contains(res.Output(), "Cannot write to ClickHouse") && !strings.Contains(res.Output(), "not ready after") {
		t.Errorf("the outage was not logged:\n%s", res.Output())
	}
}
