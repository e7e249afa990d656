package passivedns

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind" // to listen on loopback only
	"github.com/miekg/dns"
	"github.com/passivedns/passivedns/internal/testkit"
)

// TestSetupHTTP runs CoreDNS in the test process from a Corefile with http: the API
// listens after startup, keeps listening across a reload, and is gone after shutdown;
// two server blocks naming one address share it.
func TestSetupHTTP(t *testing.T) {
	if !slices.Contains(dnsserver.Directives, "passivedns") {
		dnsserver.Directives = append([]string{"passivedns"}, dnsserver.Directives...)
	}
	db := testCH(t).TestDB(t)
	dnsPort, dnsPort2, httpPort := testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)
	api := fmt.Sprintf("127.0.0.1:%d", httpPort)
	corefile := func(sensor string) string {
		block := func(port int) string {
			return fmt.Sprintf(".:%d {\n    bind 127.0.0.1\n    passivedns %s {\n        sensor %s\n        flush 50ms\n        http %s\n    }\n}\n", port, testCH(t).DSN(db), sensor, api)
		}
		return block(dnsPort) + block(dnsPort2)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + api + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	inst, err := caddy.Start(caddy.CaddyfileInput{Contents: []byte(corefile("one")), ServerTypeName: "dns"})
	if err != nil {
		t.Fatalf("starting CoreDNS: %v", err)
	}
	defer func() {
		inst.Stop()
		inst.ShutdownCallbacks()
	}()
	if s, body := get("/dnsdb/v2/ping"); s != 200 {
		t.Fatalf("ping after startup: %d %s", s, body)
	}
	// A query is recorded (SERVFAIL: nothing answers after passivedns) and shows in the
	// status mounted on the API listener.
	m := new(dns.Msg)
	m.SetQuestion("setup.example.net.", dns.TypeA)
	if _, err := dns.Exchange(m, fmt.Sprintf("127.0.0.1:%d", dnsPort)); err != nil {
		t.Fatalf("query: %v", err)
	}
	testkit.WaitFor(t, "the answer to be written", 10*time.Second, func() bool {
		return testCH(t).Count(t, "SELECT count() FROM `"+db+"`.responses") > 0
	})
	if s, body := get("/api/v1/status"); s != 200 || !strings.Contains(body, `"sensor":"one"`) {
		t.Errorf("status: %d %s", s, body)
	}
	if s, body := get("/api/v1/negative/setup.example.net"); s != 200 || body != `{"done":true,"count":0}`+"\n" {
		t.Errorf("negative: %d %s", s, body)
	}

	// Reload with another sensor: the new configuration serves the same address.
	inst2, err := inst.Restart(caddy.CaddyfileInput{Contents: []byte(corefile("two")), ServerTypeName: "dns"})
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	inst = inst2
	if s, body := get("/api/v1/status"); s != 200 || !strings.Contains(body, `"sensor":"two"`) {
		t.Errorf("status after reload: %d %s", s, body)
	}
	if s, _ := get("/pdns/query/setup.example.net"); s != 200 {
		t.Errorf("COF after reload: %d", s)
	}

	inst.Stop()
	inst.ShutdownCallbacks()
	if s, _ := get("/dnsdb/v2/ping"); s != 0 {
		t.Errorf("API still answers after shutdown: %d", s)
	}
}
