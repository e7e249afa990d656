package passivedns

import (
	"github.com/passivedns/passivedns/internal/httpapi"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSDBQ runs the real DNSDB client, dnsdbq (Debian package dnsdbq, which
// scripts/deps.sh installs), against this server's DNSDB API v2 on the API scenario
// (recordScenario: real ClickHouse, filled through the recording path). dnsdbq is pointed
// at the base URL only (DNSDB_SERVER=http://ADDRESS; it appends /dnsdb/v2 itself) and must
// work unchanged: exit 0 and print exactly the records the scenario recorded.
func TestDNSDBQ(t *testing.T) {
	bin, err := exec.LookPath("dnsdbq")
	if err != nil {
		t.Fatalf("the DNSDB client dnsdbq is not installed (%v): run scripts/deps.sh", err)
	}
	r := recordScenario(t)
	recordPair(r)
	const key = "dnsdbq-test-key"
	keys := [][32]byte{sha256.Sum256([]byte(key))}
	c := startAPI(t, r.cfg, httpapi.Config{Keys: keys}, scNow)
	q := &dnsdbqRunner{t: t, bin: bin, home: t.TempDir()}
	conf := filepath.Join(q.home, "empty.conf") // no /etc/dnsdb-query.conf either
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DNSDBQ_CONFIG_FILE=" + conf, "DNSDB_SERVER=" + c.base, "DNSDB_API_KEY=" + key}
	v := q.run(env, "", "-v")
	if v.code != 0 {
		t.Fatalf("dnsdbq -v: %+v", v)
	}
	t.Logf("%s", strings.TrimSpace(v.stdout))

	// What the scenario recorded, as dnsdbq -j prints it (rdata: an array for rrset
	// lookups, a string for rdata lookups).
	obj := func(count int, first, last time.Time, rrname, rrtype string, rdata any) string {
		b, err := json.Marshal(map[string]any{"count": count, "time_first": first.Unix(), "time_last": last.Unix(),
			"rrname": rrname, "rrtype": rrtype, "rdata": rdata})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	set := func(s string) []string { return []string{s} }
	evil1 := obj(2, scT0, at(scT0, 60), "evil.example.net.", "A", set("192.0.2.1"))
	evil2 := obj(2, scT1, scT2, "evil.example.net.", "A", set("192.0.2.2"))
	wildA := obj(1, at(scT0, 70), at(scT0, 70), "a.wild.example.net.", "A", set("203.0.113.1"))
	wildB := obj(1, at(scT0, 71), at(scT0, 71), "b.wild.example.net.", "A", set("203.0.113.2"))
	wildC := obj(1, at(scT0, 72), at(scT0, 72), "c.wild.example.net.", "A", set("203.0.113.3"))
	ip1 := obj(2, scT0, at(scT0, 60), "evil.example.net.", "A", "192.0.2.1")
	ip2 := obj(2, scT1, scT2, "evil.example.net.", "A", "192.0.2.2")
	ip3 := obj(1, at(scT1, 120), at(scT1, 120), "shared.example.net.", "A", "192.0.2.2")
	v6 := obj(1, at(scT0, 50), at(scT0, 50), "v6.example.net.", "AAAA", "2001:db8::1")
	www := obj(1, at(scT0, 30), at(scT0, 30), "www.example.net.", "CNAME", "cdn.example.net.")
	mx := obj(1, at(scT0, 80), at(scT0, 80), "example.net.", "MX", "10 mail.example.net.")
	// An RRset of two addresses is one result with both, apart from the set of one.
	pair1 := obj(1, at(scT2, 10), at(scT2, 10), "pair.example.org.", "A", set("198.18.0.1"))
	pair12 := obj(2, at(scT1, 400), at(scT1, 500), "pair.example.org.", "A", []string{"198.18.0.1", "198.18.0.2"})
	summary := func(count, results int, first, last time.Time) string {
		return fmt.Sprintf(`{"count":%d,"num_results":%d,"time_first":%d,"time_last":%d}`, count, results, first.Unix(), last.Unix())
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		// rrset/name, with and without a type, wildcards on either side, raw owner.
		{[]string{"-r", "evil.example.net"}, []string{evil1, evil2}},
		{[]string{"-r", "evil.example.net/A"}, []string{evil1, evil2}},
		{[]string{"-r", "evil.example.net/A/example.net"}, []string{evil1, evil2}},
		{[]string{"-t", "A", "-r", "evil.example.net"}, []string{evil1, evil2}},
		{[]string{"-r", "evil.example.net/AAAA"}, nil},
		{[]string{"-r", "*.wild.example.net"}, []string{wildA, wildB, wildC}},
		{[]string{"-r", "c.wild.*"}, []string{wildC}},
		{[]string{"-R", "046576696c076578616d706c65036e657400/A"}, []string{evil1, evil2}},
		{[]string{"-r", "nothing.example.net"}, nil},
		{[]string{"-r", "pair.example.org"}, []string{pair1, pair12}},
		{[]string{"-r", "*.example.org/A"}, []string{pair1, pair12}},
		// rdata/name.
		{[]string{"-n", "cdn.example.net"}, []string{www}},
		{[]string{"-n", "cdn.example.net/CNAME"}, []string{www}},
		{[]string{"-n", "*.example.net"}, []string{mx, www}},
		// rdata/ip: address, prefix (dnsdbq turns / into ,), range, IPv6.
		{[]string{"-i", "192.0.2.2"}, []string{ip2, ip3}},
		{[]string{"-i", "192.0.2.0,24"}, []string{ip1, ip2, ip3}},
		{[]string{"-i", "192.0.2.0/24"}, []string{ip1, ip2, ip3}},
		{[]string{"-i", "192.0.2.1-192.0.2.2"}, []string{ip1, ip2, ip3}},
		{[]string{"-i", "2001:db8::/32"}, []string{v6}},
		// summarize.
		{[]string{"-V", "summarize", "-r", "evil.example.net"}, []string{summary(4, 2, scT0, scT2)}},
		{[]string{"-V", "summarize", "-r", "*.wild.example.net"}, []string{summary(3, 3, at(scT0, 70), at(scT0, 72))}},
		{[]string{"-V", "summarize", "-i", "192.0.2.2"}, []string{summary(3, 2, scT1, scT2)}},
		{[]string{"-V", "summarize", "-r", "pair.example.org"}, []string{summary(3, 2, at(scT1, 400), at(scT2, 10))}},
		// Query limit (the server ends with "limited") and offset.
		{[]string{"-l", "1", "-r", "evil.example.net"}, []string{evil1}},
		{[]string{"-l", "2", "-r", "*.wild.example.net"}, []string{wildA, wildB}},
		{[]string{"-l", "1", "-O", "1", "-r", "evil.example.net"}, []string{evil2}},
		{[]string{"-l", "0", "-r", "evil.example.net"}, []string{evil1, evil2}},
		// Time fences: -A is time_last_after, -B time_first_before; with -c (strict)
		// time_first_after and time_last_before.
		{[]string{"-A", "2026-11-04", "-r", "evil.example.net"}, []string{evil2}},
		{[]string{"-B", "2026-11-04", "-r", "evil.example.net"}, []string{evil1}},
		{[]string{"-A", "2026-11-03", "-B", "2026-11-06", "-r", "evil.example.net"}, []string{evil1, evil2}},
		{[]string{"-c", "-A", "2026-11-03 10:00:01", "-B", "2026-11-06", "-r", "evil.example.net"}, []string{evil2}},
		{[]string{"-c", "-A", "2026-11-03", "-B", "2026-11-04 12:00:00", "-r", "evil.example.net"}, []string{evil1}},
		{[]string{"-A", fmt.Sprint(at(scT1, 60).Unix()), "-i", "192.0.2.0/24"}, []string{ip2, ip3}},
		// Gravel (aggr=f): one result per record and day.
		{[]string{"-g", "-r", "evil.example.net"}, []string{evil1,
			obj(1, scT1, scT1, "evil.example.net.", "A", set("192.0.2.2")), obj(1, scT2, scT2, "evil.example.net.", "A", set("192.0.2.2"))}},
		{[]string{"-g", "-r", "pair.example.org"}, []string{pair1, pair12}},
		// dnsdbq's own sorting parses every field of our objects.
		{[]string{"-S", "-k", "first", "-r", "evil.example.net"}, []string{evil2, evil1}},
		{[]string{"-s", "-k", "count,name", "-i", "192.0.2.0/24"}, []string{ip3, ip1, ip2}},
	} {
		args := append([]string{"-j"}, tc.args...)
		res := q.run(env, "", args...)
		if res.code != 0 {
			t.Errorf("dnsdbq %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
			continue
		}
		if got := jsonLinesOf(t, res.stdout); !reflect.DeepEqual(got, jsonLinesOf(t, lines(tc.want...))) {
			t.Errorf("dnsdbq %s:\n got\n%s want\n%s stderr:\n%s", strings.Join(args, " "), res.stdout, lines(tc.want...), res.stderr)
		}
	}

	// The text and CSV presentations, and the rate_limit summary (-I).
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", "evil.example.net"}, ";; record times: 2026-11-03 10:00:00 .. 2026-11-03 10:01:00 (1m 1s)\n;; count: 2\nevil.example.net.  A  192.0.2.1\n\n" +
			";; record times: 2026-11-04 10:00:00 .. 2026-11-05 10:00:00 (~1d)\n;; count: 2\nevil.example.net.  A  192.0.2.2\n\n"},
		{[]string{"-p", "csv", "-i", "192.0.2.2"}, "time_first,time_last,zone_first,zone_last,count,bailiwick,rrname,rrtype,rdata\n" +
			`"2026-11-04 10:00:00","2026-11-05 10:00:00",,,2,,"evil.example.net.","A","192.0.2.2"` + "\n" +
			`"2026-11-04 10:02:00","2026-11-04 10:02:00",,,1,,"shared.example.net.","A","192.0.2.2"` + "\n"},
		{[]string{"-r", "pair.example.org/A"}, ";; record times: 2026-11-05 10:00:10 .. 2026-11-05 10:00:10 (1s)\n;; count: 1\npair.example.org.  A  198.18.0.1\n\n" +
			";; record times: 2026-11-04 10:06:40 .. 2026-11-04 10:08:20 (1m 41s)\n;; count: 2\npair.example.org.  A  198.18.0.1\npair.example.org.  A  198.18.0.2\n\n"},
		{[]string{"-V", "summarize", "-r", "evil.example.net"}, ";; record times: 2026-11-03 10:00:00 .. 2026-11-05 10:00:00\n;; count: 4; num_results: 2\n"},
		{[]string{"-I"}, "rate:\n\treset: n/a\n\texpires: n/a\n\tlimit: unlimited\n\tremaining: n/a\n\tresults_max: 1000000\n\toffset_max: 1000000\n"},
	} {
		res := q.run(env, "", tc.args...)
		if res.code != 0 || strings.TrimRight(res.stdout, "\n") != strings.TrimRight(tc.want, "\n") {
			t.Errorf("dnsdbq %s: exit %d\n got\n%s want\n%s stderr:\n%s", strings.Join(tc.args, " "), res.code, res.stdout, tc.want, res.stderr)
		}
	}

	// Batch mode: one query a line, each answer followed by "--".
	res := q.run(env, "rrset/name/evil.example.net/A\nrdata/ip/192.0.2.2\nrdata/name/nothing.example.net\n", "-j", "-f")
	if want := lines(evil1, evil2, "--", ip2, ip3, "--", "--"); res.code != 0 || !reflect.DeepEqual(jsonLinesOf(t, res.stdout), jsonLinesOf(t, want)) {
		t.Errorf("dnsdbq -j -f: exit %d\n got\n%s want\n%s stderr:\n%s", res.code, res.stdout, want, res.stderr)
	}

	// Failures: dnsdbq shows the status and the first line of the body, our SAF failed
	// line with its reason, and prints no result. (dnsdbq 2.6 exits 0 after an HTTP
	// error: it exits 1 only when it cannot reach the server.)
	for _, tc := range []struct {
		what string
		env  []string
		args []string
		want string
	}{
		{"wrong key", []string{"DNSDBQ_CONFIG_FILE=" + conf, "DNSDB_SERVER=" + c.base, "DNSDB_API_KEY=wrong-" + key},
			[]string{"-j", "-r", "evil.example.net"}, `libcurl 403 [` + c.base + `/dnsdb/v2/lookup/rrset/name/evil.example.net?swclient=dnsdbq&version=`},
		{"wrong key, message", []string{"DNSDBQ_CONFIG_FILE=" + conf, "DNSDB_SERVER=" + c.base, "DNSDB_API_KEY=wrong-" + key},
			[]string{"-j", "-i", "192.0.2.2"}, `{"cond":"failed","msg":"missing or wrong API key: send X-API-Key, Authorization: Bearer, or Basic with the key as password"}`},
		{"bad name", env, []string{"-j", "-r", "bad..name"}, `libcurl 400 [` + c.base + `/dnsdb/v2/lookup/rrset/name/bad..name?`},
		{"bad name, message", env, []string{"-j", "-r", "bad..name"}, `{"cond":"failed","msg":"owner: not a domain name in presentation format"}`},
		{"offset too large", env, []string{"-j", "-O", "2000000", "-r", "evil.example.net"},
			`libcurl 416 [` + c.base + `/dnsdb/v2/lookup/rrset/name/evil.example.net?swclient=dnsdbq&version=`},
		{"offset too large, message", env, []string{"-j", "-O", "2000000", "-r", "evil.example.net"},
			`&offset=2000000] {"cond":"failed","msg":"offset: larger than the offset_max of rate_limit"}`},
	} {
		res := q.run(tc.env, "", tc.args...)
		if res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: dnsdbq %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr containing %s", tc.what, strings.Join(tc.args, " "), res.code, res.stdout, res.stderr, tc.want)
		}
	}

	// The key from ~/.dnsdb-query.conf, the file dnsdbq's usage tells users to write.
	home2 := t.TempDir()
	cfgText := fmt.Sprintf("DNSDB_SERVER=%q\nDNSDB_API_KEY=%q\n", c.base, key)
	if err := os.WriteFile(filepath.Join(home2, ".dnsdb-query.conf"), []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	q2 := &dnsdbqRunner{t: t, bin: bin, home: home2}
	if res := q2.run(nil, "", "-j", "-r", "evil.example.net/A"); res.code != 0 || !reflect.DeepEqual(jsonLinesOf(t, res.stdout), jsonLinesOf(t, lines(evil1, evil2))) {
		t.Errorf("dnsdbq with ~/.dnsdb-query.conf: %+v", res)
	}

	// HTTPS (http_tls) with a self-signed certificate. dnsdbq has no option for a CA file
	// and Debian's libcurl reads neither CURL_CA_BUNDLE nor SSL_CERT_FILE, so -U (no
	// certificate verification) is how dnsdbq talks to it.
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestCert(t, certFile, keyFile)
	cs := startAPI(t, r.cfg, httpapi.Config{CertFile: certFile, KeyFile: keyFile, Keys: keys}, scNow)
	if !strings.HasPrefix(cs.base, "https://") {
		t.Fatalf("TLS API at %s", cs.base)
	}
	envTLS := []string{"DNSDBQ_CONFIG_FILE=" + conf, "DNSDB_SERVER=" + cs.base, "DNSDB_API_KEY=" + key}
	if res := q.run(envTLS, "", "-U", "-j", "-i", "192.0.2.2"); res.code != 0 || !reflect.DeepEqual(jsonLinesOf(t, res.stdout), jsonLinesOf(t, lines(ip2, ip3))) {
		t.Errorf("dnsdbq -U over HTTPS: %+v", res)
	}
}

type dnsdbqRunner struct {
	t    *testing.T
	bin  string
	home string
}

type dnsdbqResult struct {
	code           int
	stdout, stderr string
}

// run runs dnsdbq with HOME, PATH (dnsdbq runs sh for its configuration and sort for
// -s) and env only, so that no configuration of the user running the tests leaks in.
func (q *dnsdbqRunner) run(env []string, stdin string, args ...string) dnsdbqResult {
	q.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, q.bin, args...)
	cmd.Env = append([]string{"HOME=" + q.home, "PATH=" + os.Getenv("PATH"), "TZ=UTC", "LC_ALL=C"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := dnsdbqResult{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		res.code = ee.ExitCode() // -1 when killed by a signal (an assertion: SIGABRT)
		if !ee.Exited() {
			res.stderr += err.Error()
		}
	default:
		q.t.Fatalf("dnsdbq %s: %v (stderr: %s)", strings.Join(args, " "), err, res.stderr)
	}
	return res
}

// jsonLinesOf parses one JSON value a line; the batch marker "--" stays a string.
func jsonLinesOf(t *testing.T, s string) []any {
	t.Helper()
	var out []any
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		var v any
		if l == "--" {
			v = l
		} else if err := dec.Decode(&v); err != nil {
			t.Errorf("dnsdbq printed a line that is not JSON: %q", l)
			v = l
		}
		out = append(out, v)
	}
	return out
}

// recordPair adds an RRset of two addresses to a recorded scenario: served in one order,
// then in the other (the same set), then one address alone (another set).
func recordPair(r *recording) {
	r.t.Helper()
	const one, two = "pair.example.org. 300 IN A 198.18.0.1", "pair.example.org. 300 IN A 198.18.0.2"
	r.set("pair.example.org.", dns.TypeA, dns.RcodeSuccess, two, one)
	r.ask(at(scT1, 400), "pair.example.org.", dns.TypeA)
	r.set("pair.example.org.", dns.TypeA, dns.RcodeSuccess, one, two)
	r.ask(at(scT1, 500), "pair.example.org.", dns.TypeA)
	r.set("pair.example.org.", dns.TypeA, dns.RcodeSuccess, one)
	r.ask(at(scT2, 10), "pair.example.org.", dns.TypeA)
	r.flush()
}
