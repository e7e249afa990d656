package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestAPIGolden compares the bytes of DNSDB (SAF) and COF answers on the scenario with
// testdata/golden, and checks their framing rules line by line. go test -run
// TestAPIGolden -update . rewrites the files.
func TestAPIGolden(t *testing.T) {
	r := recordScenario(t)
	recordPair(r)
	c := startAPI(t, r.cfg, httpapi.Config{}, scNow)
	cases := []struct {
		file, path string
		hdr        http.Header
		status     int
	}{
		{"saf_rrset_name.ndjson", "/dnsdb/v2/lookup/rrset/name/evil.example.net", nil, 200},
		{"saf_rrset_wildcard_limited.ndjson", "/dnsdb/v2/lookup/rrset/name/*.example.net?limit=4", nil, 200},
		{"saf_rrset_humantime.ndjson", "/dnsdb/v2/lookup/rrset/name/www.example.net?humantime=true", nil, 200},
		{"saf_rrset_multi.ndjson", "/dnsdb/v2/lookup/rrset/name/pair.example.org/A", nil, 200},
		{"saf_rrset_multi_aggr_false.ndjson", "/dnsdb/v2/lookup/rrset/name/*.example.org?aggr=false", nil, 200},
		{"saf_summarize_rrset.ndjson", "/dnsdb/v2/summarize/rrset/name/pair.example.org", nil, 200},
		{"saf_rrset_aggr_false.ndjson", "/dnsdb/v2/lookup/rrset/name/evil.example.net/A?aggr=false", nil, 200},
		{"saf_rdata_ip_prefix.ndjson", "/dnsdb/v2/lookup/rdata/ip/192.0.2.0,24", nil, 200},
		{"saf_rdata_name.ndjson", "/dnsdb/v2/lookup/rdata/name/cdn.example.net/CNAME", nil, 200},
		{"saf_summarize.ndjson", "/dnsdb/v2/summarize/rdata/ip/192.0.2.0,24", nil, 200},
		{"saf_empty.ndjson", "/dnsdb/v2/lookup/rrset/name/nothing.example.net", nil, 200},
		{"saf_failed.ndjson", "/dnsdb/v2/lookup/rrset/name/bad..name", nil, 400},
		{"saf_offset.ndjson", "/dnsdb/v2/lookup/rrset/name/evil.example.net?offset=1000001", nil, 416},
		{"cof_name.ndjson", "/pdns/query/evil.example.net", nil, 200},
		{"cof_ip.ndjson", "/pdns/query/192.0.2.2", nil, 200},
		{"cof_ipv6.ndjson", "/pdns/query/2001:db8::1", nil, 200},
		{"cof_filtered.ndjson", "/pdns/query/*.example.net", http.Header{"Dribble-Filter-Rrtype": {"MX,CNAME"}}, 200},
		{"cof_bad.json", "/pdns/query/bad..name", nil, 400},
	}
	for _, tc := range cases {
		resp := c.do("GET", tc.path, tc.hdr, nil)
		if resp.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, resp.status, tc.status)
		}
		file := filepath.Join("testdata", "golden", tc.file)
		if *updateGolden {
			os.MkdirAll(filepath.Dir(file), 0o755)
			if err := os.WriteFile(file, []byte(resp.body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if resp.body != string(want) {
			t.Errorf("%s differs from %s:\n got\n%s\n want\n%s", tc.path, file, resp.body, want)
		}
		if strings.HasPrefix(tc.file, "saf_") {
			checkSAF(t, tc.path, resp.status, resp.body)
		} else if strings.HasSuffix(tc.file, ".ndjson") {
			checkCOF(t, tc.path, resp.body)
		}
		ct := resp.header.Get("Content-Type")
		if strings.HasSuffix(tc.file, ".ndjson") && ct != "application/x-ndjson" || strings.HasSuffix(tc.file, ".json") && ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
	}
}

// ndjsonLines splits a body into its JSON objects, checking the NDJSON rules: every
// line ends in \n, holds one object, and has no CR.
func ndjsonLines(t *testing.T, what, body string) []map[string]json.RawMessage {
	t.Helper()
	if body != "" && !strings.HasSuffix(body, "\n") || strings.Contains(body, "\r") {
		t.Errorf("%s: not NDJSON: %q", what, body)
	}
	var out []map[string]json.RawMessage
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if l == "" && body == "" {
			break
		}
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Errorf("%s: line %q: %v", what, l, err)
		}
		out = append(out, o)
	}
	return out
}

// checkSAF: begin first, exactly one terminator, last; obj lines in between. An answer
// other than 200 is not framed (DNSDB frames only 200 answers, and clients report the
// first line of any other): it is one failed line with its msg.
func checkSAF(t *testing.T, what string, status int, body string) {
	t.Helper()
	ls := ndjsonLines(t, what, body)
	if status != http.StatusOK {
		if len(ls) != 1 || string(ls[0]["cond"]) != `"failed"` || len(ls[0]["msg"]) == 0 || len(ls[0]) != 2 {
			t.Errorf("%s: a %d answer must be one failed line with a msg: %q", what, status, body)
		}
		return
	}
	if len(ls) < 2 || string(ls[0]["cond"]) != `"begin"` || len(ls[0]) != 1 {
		t.Errorf("%s: SAF must start with begin: %q", what, body)
		return
	}
	last := ls[len(ls)-1]
	switch string(last["cond"]) {
	case `"succeeded"`:
	case `"limited"`, `"failed"`:
		if len(last["msg"]) == 0 {
			t.Errorf("%s: %s terminator without msg", what, last["cond"])
		}
	default:
		t.Errorf("%s: no terminator: %q", what, body)
	}
	for _, o := range ls[1 : len(ls)-1] {
		if _, ok := o["obj"]; !ok || len(o) != 1 {
			t.Errorf("%s: a line between begin and the terminator is not an obj: %v", what, o)
		}
	}
}

// checkCOF: the mandatory fields with strict types; numbers are numbers.
func checkCOF(t *testing.T, what, body string) {
	t.Helper()
	for _, o := range ndjsonLines(t, what, body) {
		var rec struct {
			RRName    string      `json:"rrname"`
			RRType    any         `json:"rrtype"`
			RData     []string    `json:"rdata"`
			TimeFirst json.Number `json:"time_first"`
			TimeLast  json.Number `json:"time_last"`
			Count     json.Number `json:"count"`
			SensorID  string      `json:"sensor_id"`
		}
		b, _ := json.Marshal(o)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Errorf("%s: %s: %v", what, b, err)
			continue
		}
		for _, f := range []string{"time_first", "time_last", "count"} {
			if v := o[f]; len(v) == 0 || v[0] == '"' {
				t.Errorf("%s: %s is %s, want a JSON number", what, f, v)
			}
		}
		if rec.RRName == "" || rec.RRType == nil || len(rec.RData) == 0 || rec.SensorID == "" || !strings.HasSuffix(rec.RRName, ".") {
			t.Errorf("%s: incomplete COF record %s", what, b)
		}
	}
}
