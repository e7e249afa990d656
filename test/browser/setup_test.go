package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/passivedns/passivedns/internal/corednstest"
)

const (
	apiKey      = "browser-test-key-1"
	stepTimeout = 20 * time.Second // one browser step: load, search, expand
)

// demo is a resolver recording the demo zone's answers, with its API and page.
type demo struct {
	base  string // http://127.0.0.1:PORT
	start time.Time
}

// startDemo serves examples/db.example.org from an authoritative CoreDNS, records the
// answers of a resolver in front of it into a new database, and asks the questions of the
// demo (the ones scripts/run.sh asks, and a few more). Then api.example.org moves from
// 192.0.2.20 to 192.0.2.22 and is asked again, so that its timeline shows the change.
func startDemo(t *testing.T) *demo {
	t.Helper()
	dir := t.TempDir()
	zoneText, err := os.ReadFile(filepath.Join("..", "..", "examples", "db.example.org"))
	if err != nil {
		t.Fatal(err)
	}
	zonePath := filepath.Join(dir, "db.example.org")
	corednstest.WriteFileAtomic(t, zonePath, string(zoneText))
	auth := coredns.Start(t, "auth", dir, func(p corednstest.Ports) string {
		return fmt.Sprintf("example.org:%d {\n    bind 127.0.0.1\n    file db.example.org {\n        reload 1s\n    }\n}\n", p.DNS)
	})
	db := corednstest.Database(t, ch, "browser")
	res := coredns.Start(t, "resolver", dir, func(p corednstest.Ports) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    passivedns %s {
        flush 100ms
        sensor browser
        http 127.0.0.1:%d
        api_key %s
    }
    forward . %s
}
`, p.DNS, ch.DSN(db), p.HTTP, apiKey, auth.Addr)
	})
	d := &demo{base: fmt.Sprintf("http://127.0.0.1:%d", res.Ports.HTTP), start: time.Now().UTC().Truncate(time.Second)}

	questions := []struct {
		name  string
		qtype uint16
	}{
		{"www.example.org.", dns.TypeA}, {"www.example.org.", dns.TypeAAAA}, {"example.org.", dns.TypeA},
		{"docs.example.org.", dns.TypeA}, {"blog.example.org.", dns.TypeA}, {"api.example.org.", dns.TypeA},
		{"example.org.", dns.TypeMX}, {"example.org.", dns.TypeNS}, {"mail.example.org.", dns.TypeA},
		{"mail.example.org.", dns.TypeAAAA}, {"nothing-here.example.org.", dns.TypeA}, {"www.example.org.", dns.TypeTXT},
	}
	for _, q := range questions {
		ask(t, res.Addr, q.name, q.qtype)
	}
	// The move: a new serial, read by the file plugin within a second.
	moved := strings.Replace(strings.Replace(string(zoneText), "2024010101", "2024010102", 1), "192.0.2.20", "192.0.2.22", 1)
	time.Sleep(1100 * time.Millisecond) // the new address is first seen in a later second
	corednstest.WriteFileAtomic(t, zonePath, moved)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fmt.Sprint(ask(t, auth.Addr, "api.example.org.", dns.TypeA).Answer), "192.0.2.22") {
		if time.Now().After(deadline) {
			t.Fatal("the authoritative server did not read the moved zone within 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	ask(t, res.Addr, "api.example.org.", dns.TypeA)
	ask(t, res.Addr, "www.example.org.", dns.TypeA)
	want := int64(len(questions) + 2)
	for {
		n, err := corednstest.Count(ch, db, "responses", 5*time.Second)
		if err == nil && n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("responses holds %d rows (error %v), want %d", n, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return d
}

// ask sends one query over UDP and fails the test unless it is answered.
func ask(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// apiRows asks the native API what the page should show: its result lines, trailer left out.
func (d *demo) apiRows(t *testing.T, path string) []map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", d.base+path, nil)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	var rows []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("GET %s: %v in %q", path, err, sc.Text())
		}
		if m["done"] == true {
			return rows
		}
		rows = append(rows, m)
	}
	t.Fatalf("GET %s: no trailer", path)
	return nil
}

// apiBody is the body of a native API answer, its status checked.
func (d *demo) apiBody(t *testing.T, path string) (string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", d.base+path, nil)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
	return string(b), resp.Header
}

// outDir is where screenshots go: $PASSIVEDNS_BROWSER_OUT, or a new folder that is kept.
func outDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PASSIVEDNS_BROWSER_OUT")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "passivedns-browser-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// newBrowser starts headless chromium for the test: a laptop-sized window, no sandbox (the
// tests run as root), and no name resolves, so nothing but loopback addresses can load.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// isLoopback keeps the tests honest about what they load.
func isLoopback(u string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
