package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"
	"github.com/passivedns/passivedns/internal/param"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/passivedns/passivedns/internal/chtest"
)

func TestParseHTTP(t *testing.T) {
	const key = "s3cret-key-1"
	os.Unsetenv("PDNS_TEST_UNSET_KEY")
	tests := []struct {
		input     string
		shouldErr string
		check     func(httpapi.Config) bool
	}{
		{"passivedns", "", func(h httpapi.Config) bool { return h.Addr == "" && len(h.Keys) == 0 }},
		{"passivedns {\n http 127.0.0.1:8053\n}", "", func(h httpapi.Config) bool { return h.Addr == "127.0.0.1:8053" }},
		{"passivedns {\n http [::1]:8053\n}", "", func(h httpapi.Config) bool { return h.Addr == "[::1]:8053" }},
		{"passivedns {\n http localhost:8053\n}", "", nil},
		{"passivedns {\n http 0.0.0.0:8053\n api_key " + key + " other-key-2\n}", "", func(h httpapi.Config) bool {
			return len(h.Keys) == 2 && h.Keys[0] == sha256.Sum256([]byte(key))
		}},
		{"passivedns {\n http 127.0.0.1:8443\n http_tls /c.pem /k.pem\n}", "", func(h httpapi.Config) bool { return h.CertFile == "/c.pem" && h.KeyFile == "/k.pem" }},

		{"passivedns {\n http 0.0.0.0:8053\n}", "accepts connections from the network but no api_key", nil},
		{"passivedns {\n http :8053\n}", "no api_key", nil},
		{"passivedns {\n http 192.0.2.1:8053\n}", "no api_key", nil},
		{"passivedns {\n http 8053\n}", "not HOST:PORT", nil},
		{"passivedns {\n http\n}", "exactly one address", nil},
		{"passivedns {\n http a:1 b:2\n}", "exactly one address", nil},
		{"passivedns {\n http 127.0.0.1:8053\n api_key\n}", "at least one key", nil},
		{"passivedns {\n http 127.0.0.1:8053\n api_key {$PDNS_TEST_UNSET_KEY}\n}", "", nil}, // an unset variable is no argument at all
		{"passivedns {\n http 127.0.0.1:8053\n api_key shortie\n}", "api_key 1 is shorter than 8", nil},
		{"passivedns {\n http 127.0.0.1:8053\n api_key " + key + " \"\"\n}", "api_key 2 is empty", nil},
		{"passivedns {\n api_key " + key + "\n}", "need http ADDRESS", nil},
		{"passivedns {\n http 127.0.0.1:8053\n http_tls /c.pem\n}", "CERT KEY", nil},
	}
	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		cfg, err := parse(c)
		if tc.input == "passivedns {\n http 127.0.0.1:8053\n api_key {$PDNS_TEST_UNSET_KEY}\n}" {
			if err == nil || !strings.Contains(err.Error(), "placeholder that was not replaced") {
				t.Errorf("Test %d: unset variable: %v", i, err)
			}
			continue
		}
		if tc.shouldErr == "" {
			if err != nil {
				t.Errorf("Test %d: %q: unexpected error %v", i, tc.input, err)
				continue
			}
			if tc.check != nil && !tc.check(cfg.api) {
				t.Errorf("Test %d: %q: parsed %+v", i, tc.input, cfg.api)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.shouldErr) {
			t.Errorf("Test %d: %q: error %v, want one containing %q", i, tc.input, err, tc.shouldErr)
		}
		if err != nil && strings.Contains(err.Error(), key) {
			t.Errorf("Test %d: the error shows the key: %v", i, err)
		}
	}
}

// TestAPIAuth: with keys, every data endpoint needs one, in any accepted form.
func TestAPIAuth(t *testing.T) {
	r := newRecording(t)
	const key1, key2 = "first-key-0001", "second-key-002"
	hc := httpapi.Config{Keys: [][32]byte{sha256.Sum256([]byte(key1)), sha256.Sum256([]byte(key2))}}
	c := startAPI(t, r.cfg, hc, scNow)
	paths := []string{"/api/v1/name/example.net", "/api/v1/ip/192.0.2.1", "/api/v1/rdata/example.net", "/api/v1/negative/example.net",
		"/api/v1/asof/example.net", "/api/v1/pivot/example.net", "/api/v1/status",
		"/dnsdb/v2/lookup/rrset/name/example.net", "/dnsdb/v2/rate_limit", "/pdns/query/example.net"}
	c.api.Handle("GET /api/v1/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }), true)
	c.api.OnShutdown()
	if err := c.api.OnStartup(); err != nil {
		t.Fatal(err)
	}
	c.base = "http://" + c.api.Addr()
	basic := func(user, pw string) http.Header {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pw)
		return req.Header
	}
	denied := []struct {
		name string
		hdr  http.Header
	}{
		{"no key", nil},
		{"wrong key", http.Header{"X-Api-Key": {"wrong-key-0000"}}},
		{"prefix of a key", http.Header{"X-Api-Key": {key1[:8]}}},
		{"key plus a byte", http.Header{"X-Api-Key": {key1 + "x"}}},
		{"wrong bearer", http.Header{"Authorization": {"Bearer " + key1 + "0"}}},
		{"key as basic user", basic(key1, "")},
		{"token scheme", http.Header{"Authorization": {"Token " + key1}}},
	}
	accepted := []struct {
		name string
		hdr  http.Header
	}{
		{"X-API-Key", http.Header{"X-Api-Key": {key1}}},
		{"second key", http.Header{"X-Api-Key": {key2}}},
		{"Bearer", http.Header{"Authorization": {"Bearer " + key2}}},
		{"Basic password", basic("anyone", key1)},
	}
	for _, p := range paths {
		for _, d := range denied {
			resp := c.do("GET", p, d.hdr, nil)
			want := http.StatusUnauthorized
			if strings.HasPrefix(p, "/dnsdb/") {
				want = http.StatusForbidden
				if !strings.HasSuffix(resp.body, `"cond":"failed","msg":"missing or wrong API key: send X-API-Key, Authorization: Bearer, or Basic with the key as password"}`+"\n") {
					t.Errorf("%s, %s: body %q", p, d.name, resp.body)
				}
			} else if resp.header.Get("WWW-Authenticate") == "" || !strings.Contains(resp.body, `"error":"missing or wrong API key`) {
				t.Errorf("%s, %s: %v %q", p, d.name, resp.header, resp.body)
			}
			if resp.status != want {
				t.Errorf("%s, %s: status %d, want %d", p, d.name, resp.status, want)
			}
			if strings.Contains(resp.body, key1) || strings.Contains(resp.body, key2) {
				t.Errorf("%s: a key in the answer", p)
			}
		}
		for _, a := range accepted {
			if resp := c.do("GET", p, a.hdr, nil); resp.status != http.StatusOK {
				t.Errorf("%s, %s: status %d %s", p, a.name, resp.status, resp.body)
			}
		}
	}
	// Not data: open without a key.
	for _, p := range []string{"/dnsdb/v2/ping", "/api/v1/openapi.json"} {
		if resp := c.get(p); resp.status != http.StatusOK {
			t.Errorf("%s without a key: %d", p, resp.status)
		}
	}
	if resp := c.do("POST", "/api/v1/bulk", nil, strings.NewReader("example.net\n")); resp.status != http.StatusUnauthorized {
		t.Errorf("bulk without a key: %d", resp.status)
	}
}

// TestAPIBadInput: every parameter, malformed, is a 400 naming it (SAF failed on DNSDB
// paths), never a 500; values with SQL metacharacters that are valid names are bound,
// not pasted, and find nothing.
func TestAPIBadInput(t *testing.T) {
	r := newRecording(t)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	long := strings.Repeat("a", 63) + "."
	huge := strings.Repeat(long, 20)
	many := strings.TrimSuffix(strings.Repeat("A,", 200), ",")
	tests := []struct {
		path  string
		param string // the parameter the error names; "" for a 200
	}{
		{"/api/v1/name/not..a..name", "name"},
		{"/api/v1/name/" + url.PathEscape(huge), "name"},
		{"/api/v1/name/" + strings.Repeat(long, 4) + "example", "name"}, // over 255 bytes
		{"/api/v1/name/*", "name"},
		{"/api/v1/name/*.", "name"},
		{"/api/v1/name/a.*.example.net", "name"},
		{"/api/v1/name/%00.example.net", "name"},
		{"/api/v1/name/a%0Ab.example.net", "name"},
		{"/api/v1/name/example.net?rrtype=NOPE", "rrtype"},
		{"/api/v1/name/example.net?rrtype=", "rrtype"},
		{"/api/v1/name/example.net?rrtype=A,,AAAA", "rrtype"},
		{"/api/v1/name/example.net?rrtype=" + many, ""}, // one type, repeated
		{"/api/v1/name/example.net?rrtype=A,AAAA,MX,NS,TXT,SOA,PTR,SRV,CAA,DS,RRSIG,NSEC,DNSKEY,HTTPS,SVCB,NAPTR,LOC", "rrtype"},
		{"/api/v1/name/example.net?rrtype=TYPE70000", "rrtype"},
		{"/api/v1/name/example.net?rrtype=A%27%29%20OR%20%271", "rrtype"},
		{"/api/v1/name/example.net?from=yesterday", "from"},
		{"/api/v1/name/example.net?from=99999999999", "from"},
		{"/api/v1/name/example.net?from=-99999999999", "from"},
		{"/api/v1/name/example.net?from=1h", "from"},
		{"/api/v1/name/example.net?to=2026-13-01T00:00:00Z", "to"},
		{"/api/v1/name/example.net?from=2026-11-05T00:00:00Z&to=2026-11-04T00:00:00Z", "to"},
		{"/api/v1/name/example.net?window=tight", "window"},
		{"/api/v1/pivot/example.net?window=x", "window"},
		{"/api/v1/name/example.net?limit=0", "limit"},
		{"/api/v1/name/example.net?limit=-1", "limit"},
		{"/api/v1/name/example.net?limit=10001", "limit"},
		{"/api/v1/name/example.net?limit=99999999999999999999999", "limit"},
		{"/api/v1/name/example.net?limit=1e3", "limit"},
		{"/api/v1/name/example.net?cursor=garbage!", "cursor"},
		{"/api/v1/name/example.net?cursor=" + strings.Repeat("A", 5000), "cursor"},
		{"/api/v1/name/example.net?cursor=" + param.Cursor{Query: 1, Key: []string{"a", "b", "c"}}.Encode(), "cursor"},
		{"/api/v1/name/example.net?cursor=" + param.Cursor{Query: 1, Key: []string{"a"}}.Encode(), "cursor"},
		{"/api/v1/name/example.net?nope=1", "nope"},
		{"/api/v1/ip/999.0.0.1", "ip"},
		{"/api/v1/ip/192.0.2.0/33", "ip"},
		{"/api/v1/ip/192.0.2.0/-1", "ip"},
		{"/api/v1/ip/192.0.2.0/", "ip"},
		{"/api/v1/ip/2001:db8::/129", "ip"},
		{"/api/v1/ip/192.0.2.9-192.0.2.1", "ip"},
		{"/api/v1/ip/192.0.2.1-2001:db8::1", "ip"},
		{"/api/v1/ip/fe80::1%25eth0", "ip"},
		{"/api/v1/ip/" + strings.Repeat("1", 200), "ip"},
		{"/api/v1/ip/1.2.3.4%27--", "ip"},
		{"/api/v1/ip/192.0.2.1?aliases=maybe", "aliases"},
		{"/api/v1/rdata/-bad-..name", "name"},
		{"/api/v1/negative/example.net?from=x", "from"},
		{"/api/v1/asof/*.example.net", "name"},
		{"/api/v1/asof/example.net?at=noon", "at"},
		{"/api/v1/asof/example.net?at=1.5", "at"},
		{"/api/v1/asof/example.net?rrtype=BOGUS", "rrtype"},
		{"/api/v1/asof/example.net?limit=1", "limit"},
		{"/api/v1/pivot/example.net?limit=0", "limit"},
		{"/api/v1/pivot/example.net?to=x", "to"},
		{"/api/v1/pivot/*.example.net", "name"},
		{"/api/v1/pivot/example.net?depth=0", "depth"},
		{"/api/v1/pivot/example.net?depth=5", "depth"},
		{"/api/v1/pivot/example.net?via=a", "via"},
		{"/api/v1/pivot/example.net?via=", "via"},
		{"/api/v1/pivot/example.net?via=cname,,ns", "via"},
		{"/api/v1/pivot/example.net?max_nodes=0", "max_nodes"},
		{"/api/v1/pivot/example.net?max_nodes=5001", "max_nodes"},
		{"/api/v1/pivot/example.net?format=csv", "format"}, // lists only
		{"/api/v1/name/example.net?format=xml", "format"},
		{"/api/v1/ip/192.0.2.1?format=json", "format"},
		{"/api/v1/negative/example.net?format=CSV", "format"},
		{"/pdns/query/not..a..name", "value"},
		{"/pdns/query/192.0.2.0,99", "value"},
		// Valid names full of SQL metacharacters: bound, found nowhere.
		{"/api/v1/name/x%27%29--.example.net", ""},
		{"/api/v1/name/x%27%20OR%201=1.example.net", ""},
		{"/api/v1/name/%22%40%3B%28.example.net", ""},
		{"/api/v1/name/a%5C%27b.example.net", ""},
		{"/api/v1/name/%3Bdrop%5C%20table.example.net", ""},
		{"/api/v1/rdata/%27%27%27.example.net", ""},
		{"/api/v1/negative/*.x%27y.example.net", ""},
		{"/api/v1/asof/x%27.example.net?at=2026-11-03T10:00:00Z", ""},
		{"/pdns/query/%27or%271%27=%271", ""},
		{"/api/v1/name/b%C3%BCcher.example.net", ""}, // UTF-8, stored as \DDD
	}
	for _, tc := range tests {
		resp := c.get(tc.path)
		if tc.param == "" {
			if resp.status != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", tc.path, resp.status, resp.body)
			}
			continue
		}
		var e httpapi.APIError
		if resp.status != http.StatusBadRequest || json.Unmarshal([]byte(resp.body), &e) != nil || e.Parameter != tc.param ||
			!strings.HasPrefix(e.Error, tc.param+": ") || resp.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want 400 naming %q", tc.path, resp.status, resp.body, tc.param)
		}
	}

	dnsdb := []struct{ path, msg string }{
		{"/dnsdb/v2/lookup/rrset/name/not..a..name", "owner: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net/NOPE", "rrtype: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net/A/not..b", "bailiwick: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net/A/example.net/extra", "path: "},
		{"/dnsdb/v2/lookup/rrset/raw/zz", "owner: "},
		{"/dnsdb/v2/lookup/rrset/raw/03777777", "owner: "},
		{"/dnsdb/v2/lookup/rdata/ip/192.0.2.0,40", "ip: "},
		{"/dnsdb/v2/lookup/rdata/ip/192.0.2.1/A", "path: "},
		{"/dnsdb/v2/lookup/rdata/name/a..b", "name: "},
		{"/dnsdb/v2/lookup/rdata/raw/0102", "path: "},
		{"/dnsdb/v2/lookup/rrset/ip/1.2.3.4", "path: "},
		{"/dnsdb/v2/find/rrset/name/example.net", "path: "},
		{"/dnsdb/v2/lookup/rrset/name", "path: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?limit=x", "limit: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?limit=-5", "limit: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?limit=1000001", "limit: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?offset=-1", "offset: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?time_first_before=x", "time_first_before: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?time_first_after=2026-11-03", "time_first_after: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?time_last_before=1e9", "time_last_before: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?time_last_after=%27", "time_last_after: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?humantime=2", "humantime: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?aggr=no-way", "aggr: "},
		{"/dnsdb/v2/lookup/rrset/name/example.net?max_count=5", "max_count: "},
		{"/dnsdb/v2/summarize/rrset/name/example.net?max_count=0", "max_count: "},
	}
	for _, tc := range dnsdb {
		resp := c.get(tc.path)
		ls := strings.Split(strings.TrimSuffix(resp.body, "\n"), "\n")
		var f httpapi.SafFailed
		if resp.status != http.StatusBadRequest || len(ls) != 1 ||
			json.Unmarshal([]byte(ls[0]), &f) != nil || f.Cond != "failed" || !strings.HasPrefix(f.Msg, tc.msg) {
			t.Errorf("GET %s: %d %q, want 400 with a failed terminator starting %q", tc.path, resp.status, resp.body, tc.msg)
		}
	}
	for _, p := range []string{"/nothing", "/api/v1/name/", "/api/v2/name/x"} {
		if resp := c.get(p); resp.status != 404 || !strings.HasPrefix(resp.body, `{"error":"no such endpoint`) {
			t.Errorf("GET %s: %d %s", p, resp.status, resp.body)
		}
	}
	// DNSDB clients send parameters of their own (dnsdbq: swclient, version).
	if resp := c.get("/dnsdb/v2/lookup/rrset/name/example.net?swclient=dnsdbq&version=2.6"); resp.status != 200 {
		t.Errorf("swclient: %d %s", resp.status, resp.body)
	}

	// Bulk bodies.
	bulk := []struct {
		body string
		msg  string
	}{
		{"", "body: no inputs"},
		{"\n\n", "body: no inputs"},
		{strings.Repeat("example.net\n", httpapi.BulkMaxInputs+1), "body: more than 10000 inputs"},
		{"{\"input\": 5}\n", "body: line 1: not a JSON object"},
		{strings.Repeat("a", 100000) + "\n", "body: "},
	}
	for _, tc := range bulk {
		resp := c.do("POST", "/api/v1/bulk", nil, strings.NewReader(tc.body))
		var e httpapi.APIError
		if resp.status != 400 || json.Unmarshal([]byte(resp.body), &e) != nil || e.Parameter != "body" || !strings.HasPrefix(e.Error, tc.msg) {
			t.Errorf("bulk %.40q: %d %s, want 400 %q", tc.body, resp.status, resp.body, tc.msg)
		}
	}
	for _, p := range []string{"/api/v1/bulk?limit=0", "/api/v1/bulk?rrtype=X", "/api/v1/bulk?from=x", "/api/v1/bulk?cursor=x"} {
		if resp := c.do("POST", p, nil, strings.NewReader("example.net\n")); resp.status != 400 {
			t.Errorf("POST %s: %d %s", p, resp.status, resp.body)
		}
	}
	// Exactly the maximum is fine.
	if resp := c.do("POST", "/api/v1/bulk", nil, strings.NewReader(strings.Repeat("example.net\n", httpapi.BulkMaxInputs))); resp.status != 200 ||
		!strings.HasSuffix(resp.body, `{"done":true,"count":10000}`+"\n") {
		t.Errorf("bulk of %d: %d %.200s", httpapi.BulkMaxInputs, resp.status, resp.body)
	}
	// A name full of metacharacters, recorded and found again in every protocol.
	odd := `o'brien\;--\ x.example.net.`
	r.set(odd, dns.TypeA, dns.RcodeSuccess, odd+" 300 IN A 192.0.2.99")
	r.ask(scT0, odd, dns.TypeA)
	r.flush()
	oddURL := url.PathEscape(`o'brien;-- x.example.net`)
	for _, p := range []string{"/api/v1/name/" + oddURL, "/pdns/query/" + oddURL, "/dnsdb/v2/lookup/rrset/name/" + oddURL, "/api/v1/ip/192.0.2.99"} {
		if resp := c.get(p); resp.status != 200 || !strings.Contains(resp.body, `"rrname":"o\\'brien\\;--\\ x.example.net."`) {
			t.Errorf("GET %s: %d %s", p, resp.status, resp.body)
		}
	}
	// The tables are still there.
	if n := testCH(t).Count(t, "SELECT count() FROM `"+r.db+"`.responses"); n != 1 {
		t.Errorf("responses has %d rows", n)
	}
}

// TestAPIClickHouseDown: an unreachable ClickHouse is a quick 503 in each protocol.
func TestAPIClickHouseDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := chConfig(t, "nowhere")
	opts := *cfg.options
	opts.Addr = []string{addr}
	cfg.options = &opts
	c := startAPI(t, cfg, httpapi.Config{}, scNow)
	for _, p := range []string{"/api/v1/name/example.net", "/api/v1/asof/example.net", "/api/v1/pivot/example.net", "/pdns/query/example.net", "/dnsdb/v2/lookup/rrset/name/example.net"} {
		start := time.Now()
		resp := c.get(p)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: 503 took %v", p, d)
		}
		if resp.status != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %s, want 503", p, resp.status, resp.body)
		}
		want := `{"error":"history database unavailable, retry later"}` + "\n"
		if strings.HasPrefix(p, "/dnsdb/") {
			want = `{"cond":"failed","msg":"history database unavailable, retry later"}` + "\n"
		}
		if resp.body != want {
			t.Errorf("%s: body %q, want %q", p, resp.body, want)
		}
	}
}

// TestAPIClickHouseStalled: a ClickHouse that stops answering (SIGSTOP) is a 503 once
// the query time limit is over, not a hang.
func TestAPIClickHouseStalled(t *testing.T) {
	if testCH(t).External() {
		t.Fatal("this test pauses ClickHouse: it needs the server TestMain starts, not " + chtest.EnvDSN)
	}
	r := newRecording(t)
	cfg := r.cfg
	cfg.apiTimeout = time.Second
	c := startAPI(t, cfg, httpapi.Config{}, scNow)
	if resp := c.get("/api/v1/name/example.net"); resp.status != 200 {
		t.Fatalf("before: %d %s", resp.status, resp.body)
	}
	if err := testCH(t).Pause(); err != nil {
		t.Fatal(err)
	}
	defer testCH(t).Resume()
	for _, p := range []string{"/api/v1/name/example.net", "/dnsdb/v2/lookup/rrset/name/example.net"} {
		start := time.Now()
		resp := c.get(p)
		if d := time.Since(start); resp.status != http.StatusServiceUnavailable || d > 4*time.Second {
			t.Errorf("%s while ClickHouse is stalled: %d after %v: %s", p, resp.status, d, resp.body)
		}
	}
	testCH(t).Resume()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := c.get("/api/v1/name/example.net")
		if resp.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after resuming: %d %s", resp.status, resp.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPIConcurrency: beyond apiMaxConcurrent queries, 429 (native, COF) or 503 (DNSDB).
func TestAPIConcurrency(t *testing.T) {
	r := newRecording(t)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	release := c.api.Occupy(httpapi.MaxConcurrent)
	for p, want := range map[string]int{"/api/v1/name/example.net": 429, "/pdns/query/example.net": 429, "/dnsdb/v2/lookup/rrset/name/example.net": 503} {
		resp := c.get(p)
		if resp.status != want || resp.header.Get("Retry-After") == "" {
			t.Errorf("%s when busy: %d %s", p, resp.status, resp.body)
		}
	}
	if resp := c.get("/dnsdb/v2/ping"); resp.status != 200 {
		t.Errorf("ping when busy: %d", resp.status)
	}
	release()
	if n := testutil.ToFloat64(httpapi.ApiRequests.WithLabelValues("dnsdb", "503")); n < 1 {
		t.Errorf("api_requests_total{protocol=dnsdb,code=503} = %v", n)
	}
	if resp := c.get("/api/v1/name/example.net"); resp.status != 200 {
		t.Errorf("after: %d %s", resp.status, resp.body)
	}
}

// TestAPIListener: one listener per address, stopped on reload and started again;
// HTTPS with http_tls.
func TestAPIListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := chConfig(t, "unused")
	cfg.sensor = "first"
	first := newAPI(cfg, httpapi.Config{Addr: addr})
	cfg.sensor = "second"
	second := newAPI(cfg, httpapi.Config{Addr: addr})
	for _, a := range []*httpapi.Server{first, second} {
		if err := a.OnStartup(); err != nil {
			t.Fatalf("OnStartup: %v", err)
		}
	}
	if first.Addr() != addr || second.Addr() != "" {
		t.Fatalf("first listens on %q, second on %q; want only the first", first.Addr(), second.Addr())
	}
	get := func() int {
		resp, err := http.Get("http://" + addr + "/dnsdb/v2/ping")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != 200 {
		t.Fatalf("ping: %d", s)
	}
	// Reload: the old instances stop (OnRestart), the new ones start.
	first.OnShutdown()
	second.OnShutdown()
	if s := get(); s != 0 {
		t.Fatalf("after shutdown: %d", s)
	}
	third := newAPI(cfg, httpapi.Config{Addr: addr})
	if err := third.OnStartup(); err != nil {
		t.Fatal(err)
	}
	if s := get(); s != 200 {
		t.Fatalf("after reload: %d", s)
	}
	third.OnShutdown()

	// HTTPS.
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeTestCert(t, certFile, keyFile)
	c := startAPI(t, cfg, httpapi.Config{CertFile: certFile, KeyFile: keyFile}, scNow)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(c.base + "/dnsdb/v2/ping")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("HTTPS ping: %d", resp.StatusCode)
	}
	bad := newAPI(cfg, httpapi.Config{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "missing.pem"), KeyFile: keyFile})
	if err := bad.OnStartup(); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("missing certificate: %v", err)
	}
}

func writeTestCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestOpenAPI: the document is JSON and describes every native route.
func TestOpenAPI(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPIJSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/name/{name}", "/api/v1/ip/{ip}", "/api/v1/rdata/{name}", "/api/v1/negative/{name}",
		"/api/v1/asof/{name}", "/api/v1/pivot/{name}", "/api/v1/bulk", "/api/v1/openapi.json", "/api/v1/new", "/api/v1/status"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
}
