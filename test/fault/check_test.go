package fault

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/corednstest"
	"github.com/passivedns/passivedns/internal/schema"
)

// status is the part of the writer's JSON status (GET /api/v1/status on the http
// listener) that the tests read.
type status struct {
	ClickHouse struct {
		Healthy   bool   `json:"healthy"`
		LastError string `json:"last_error"`
	} `json:"clickhouse"`
	Queue struct {
		Length int `json:"length"`
	} `json:"queue"`
	Spool *struct {
		Files   int   `json:"files"`
		Bytes   int64 `json:"bytes"`
		Records int64 `json:"records"`
	} `json:"spool"`
	Records struct {
		Captured int64            `json:"captured"`
		Written  int64            `json:"written"`
		Spooled  int64            `json:"spooled"`
		Replayed int64            `json:"replayed"`
		Dropped  map[string]int64 `json:"dropped"`
		Unsure   map[string]int64 `json:"unsure"`
	} `json:"records"`
}

func (s status) dropped() int64 {
	var n int64
	for _, v := range s.Records.Dropped {
		n += v
	}
	return n
}

func (s status) String() string {
	r := s.Records
	sp := "no spool"
	if s.Spool != nil {
		sp = fmt.Sprintf("spool %d files %d bytes %d records", s.Spool.Files, s.Spool.Bytes, s.Spool.Records)
	}
	return fmt.Sprintf("captured %d written %d spooled %d replayed %d dropped %v; queue %d; %s; clickhouse healthy %v",
		r.Captured, r.Written, r.Spooled, r.Replayed, r.Dropped, s.Queue.Length, sp, s.ClickHouse.Healthy)
}

var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}

// status reads the writer status of a resolver.
func (c *coreDNS) status() (status, error) {
	var s status
	body, err := get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/status", c.Ports.HTTP))
	if err != nil {
		return s, err
	}
	err = json.Unmarshal([]byte(body), &s)
	return s, err
}

func (c *coreDNS) mustStatus(t *testing.T) status {
	t.Helper()
	s, err := c.status()
	if err != nil {
		t.Fatalf("status of %s: %v", c.Name, err)
	}
	return s
}

var metricLine = regexp.MustCompile(`^coredns_passivedns_([a-z_]+)(?:\{reason="([a-z_]+)"\})? (\S+)$`)

// metrics reads the coredns_passivedns_* counters and gauges from prometheus, named as
// in the status: captured, written, spooled, replayed, queue_length, clickhouse_up, and
// dropped/REASON.
func (c *coreDNS) metricValues() (map[string]float64, error) {
	body, err := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.Ports.Metrics))
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	s := bufio.NewScanner(strings.NewReader(body))
	for s.Scan() {
		g := metricLine.FindStringSubmatch(s.Text())
		if g == nil {
			continue
		}
		v, err := strconv.ParseFloat(g[3], 64)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(g[1], "_total")
		if g[2] != "" {
			name += "/" + g[2]
		}
		m[name] = v
	}
	return m, s.Err()
}

// checkMetrics asserts that prometheus says what the status says.
func checkMetrics(t *testing.T, c *coreDNS, s status) {
	t.Helper()
	m, err := c.metricValues()
	if err != nil {
		t.Fatalf("metrics of %s: %v", c.Name, err)
	}
	want := map[string]int64{
		"captured": s.Records.Captured, "written": s.Records.Written,
		"spooled": s.Records.Spooled, "replayed": s.Records.Replayed,
	}
	for r, v := range s.Records.Dropped {
		want["dropped/"+r] = v
	}
	for k, v := range want {
		if got, ok := m[k]; (ok || v != 0) && int64(got) != v {
			t.Errorf("metric %s = %v, status says %d", k, got, v)
		}
	}
}

// spoolFiles lists the spool and partial spool files in dir, with their total size.
func spoolFiles(t *testing.T, dir string) (names []string, bytes int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".spool") || strings.HasSuffix(e.Name(), ".part") {
			names = append(names, filepath.Join(dir, e.Name()))
			if info, err := e.Info(); err == nil {
				bytes += info.Size()
			}
		}
	}
	return names, bytes
}

// settle waits until the resolver has written everything it holds: the spool directory
// (if any) is empty, so is the queue, responses holds as many rows as the writer says it
// wrote (plus offset, for rows written by an earlier process), and none of that changed
// for a second. It returns the status then and how long it took.
func settle(t *testing.T, c *coreDNS, db, spoolDir string, offset int64, timeout time.Duration) (status, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var (
		last      string
		lastSince time.Time
		s         status
		err       error
		rows      int64
	)
	for {
		var files []string
		if spoolDir != "" {
			files, _ = spoolFiles(t, spoolDir)
		}
		s, err = c.status()
		if err == nil {
			rows, err = corednstest.Count(ch, db, "responses", 5*time.Second) // ClickHouse may be away
		}
		if err == nil && len(files) == 0 && s.Queue.Length == 0 && rows == s.Records.Written+offset &&
			(s.Spool == nil || s.Spool.Files == 0) {
			now := fmt.Sprintf("%d %v", rows, s)
			if now != last {
				last, lastSince = now, time.Now()
			} else if time.Since(lastSince) >= time.Second {
				return s, time.Since(start)
			}
		} else {
			last = ""
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after %v: %d spool files, %d rows, status %v (error %v)", timeout, len(files), rows, s, err)
		}
		if c.Exited() {
			t.Fatalf("%s exited (%v)", c.Name, c.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rowsByName returns the number of rows of db.responses for each qname, and checks
// that every row has the sensor of the tests.
func rowsByName(t *testing.T, db string) map[string]int {
	t.Helper()
	out, err := ch.Query("SELECT qname, count() FROM " + db + ".responses GROUP BY qname")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		name, c, _ := strings.Cut(line, "\t")
		v, err := strconv.Atoi(c)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		n[name] = v
	}
	if other := corednstest.Lines(t, ch, "SELECT count() FROM "+db+".responses WHERE sensor != 'fault'"); len(other) != 1 || other[0] != "0" {
		t.Errorf("rows with another sensor than fault: %v", other)
	}
	return n
}

// checkExactlyOnce asserts that responses holds one row for each name in want and no
// other rows, except at most one for a name in maybe (queries the client gave up on,
// which the resolver may still have answered and recorded). It returns the number of
// rows and how many of them were maybes.
func checkExactlyOnce(t *testing.T, db string, want map[string]bool, maybe map[string]error) (rows, maybes int) {
	t.Helper()
	return checkRows(t, db, want, maybe, true)
}

// checkSubset is checkExactlyOnce without the missing rows: some names of want may have
// no row (dropped and counted), none may have two.
func checkSubset(t *testing.T, db string, want map[string]bool, maybe map[string]error) (rows, maybes int) {
	t.Helper()
	return checkRows(t, db, want, maybe, false)
}

func checkRows(t *testing.T, db string, want map[string]bool, maybe map[string]error, all bool) (rows, maybes int) {
	t.Helper()
	got := rowsByName(t, db)
	var missing, dup, unexpected []string
	for name, n := range got {
		rows += n
		switch {
		case n > 1:
			dup = append(dup, fmt.Sprintf("%s x%d", name, n))
		case want[name]:
		case maybe[name] != nil:
			maybes++
		default:
			unexpected = append(unexpected, name)
		}
	}
	for name := range want {
		if all && got[name] == 0 {
			missing = append(missing, name)
		}
	}
	report := func(what string, names []string) {
		if len(names) > 0 {
			t.Errorf("%d %s rows, for example %v", len(names), what, names[:min(len(names), 10)])
		}
	}
	report("missing", missing)
	report("duplicated", dup)
	report("unexpected", unexpected)
	return rows, maybes
}

// checkHistory asserts that the history view holds one row per recorded load name, each
// counted once: an answer replayed twice would count twice here even where responses
// were deduplicated. cut, where the test SIGKILLs ClickHouse, allows what such a kill may
// leave (see cutByKill), and the rows it allowed are returned.
func checkHistory(t *testing.T, db string, recorded int, cut *cutByKill) (missing int) {
	t.Helper()
	missing = cut.check(t, db)
	recorded -= missing
	got := corednstest.Lines(t, ch, "SELECT count(), sum(n), max(n), uniqExact(rrname) FROM (SELECT rrname, toUInt64(count) AS n FROM "+
		db+".history WHERE rrname LIKE '%.load.example.org.' AND rrtype = 'A' AND rdata = '"+loadAddr+"')")
	want := fmt.Sprintf("%d\t%d\t1\t%d", recorded, recorded, recorded)
	if len(got) != 1 || got[0] != want {
		t.Errorf("history of the load names: count, sum(count), max(count), names = %q, want %q", got, want)
	}
	// The names in history are the names in responses.
	diff := corednstest.Lines(t, ch, "SELECT count() FROM (SELECT DISTINCT rrname FROM "+db+".history WHERE rrname LIKE '%.load.example.org.') "+
		"WHERE rrname NOT IN (SELECT qname FROM "+db+".responses)")
	if len(diff) != 1 || diff[0] != "0" {
		t.Errorf("history names not in responses: %v", diff)
	}
	return missing
}

// cutByKill is what a SIGKILL of ClickHouse under load may leave in the history on servers
// before 22.8 (README: Exactly once): the kill can fall between an insert's raw part and its
// views' parts, and the retry, finding the batch in the raw log, cannot tell that the views
// lack it. Allowed: at most max batches missing from the history, each one whole, each one
// named by the resolver's log as landed before the connection failed. Newer servers fill
// the views on the retry, so nothing is allowed there.
type cutByKill struct {
	max int
	res *coreDNS // the resolver: its log names the batches, its status counts their rows
}

// check returns the rows missing from the history, failing the test unless cut allows
// them (a nil cut allows none).
func (cut *cutByKill) check(t *testing.T, db string) int {
	t.Helper()
	lines := corednstest.Lines(t, ch, "SELECT batch_id, count() FROM "+db+".responses WHERE qname LIKE '%.load.example.org.' AND qname NOT IN "+
		"(SELECT rrname FROM "+db+".history WHERE rrname LIKE '%.load.example.org.') GROUP BY batch_id ORDER BY batch_id")
	if len(lines) == 0 {
		return 0
	}
	legacy := legacyServer(t)
	var missing int
	var out []string
	for _, l := range lines {
		id, n, _ := strings.Cut(l, "\t")
		rows, _ := strconv.Atoi(n)
		missing += rows
		whole := corednstest.Lines(t, ch, "SELECT count() FROM "+db+".responses WHERE qname LIKE '%.load.example.org.' AND batch_id = "+id)
		hex := id
		if v, err := strconv.ParseUint(id, 10, 64); err == nil {
			hex = strconv.FormatUint(v, 16)
		}
		logged := false
		if cut != nil {
			m := regexp.MustCompile(`Batch ` + hex + `: (\d+) rows had landed before the connection failed`).FindStringSubmatch(cut.res.Output())
			logged = m != nil && m[1] == n
		}
		ok := cut != nil && legacy && logged && len(lines) <= cut.max && len(whole) == 1 && whole[0] == n
		out = append(out, fmt.Sprintf("batch %s: %d of its %v rows (logged as landed: %v)", hex, rows, whole, logged))
		if !ok {
			t.Errorf("history lacks rows of the raw log: %s", out[len(out)-1])
		}
	}
	t.Logf("history lacks %d rows the raw log has, whole batches cut by the kill: %s", missing, strings.Join(out, "; "))
	// Counted as well as logged: every batch found landed counts, cut or not.
	if cut != nil {
		if got := cut.res.mustStatus(t).Records.Unsure["history"]; got < int64(missing) {
			t.Errorf("status records.unsure.history = %d, less than the %d rows missing from the history", got, missing)
		}
	}
	return missing
}

// legacyServer tells whether ch is older than 22.8: no insert deduplication tokens.
func legacyServer(t *testing.T) bool {
	t.Helper()
	return !schema.DetectFlavor(strings.Join(corednstest.Lines(t, ch, "SELECT version()"), "")).Modern
}
