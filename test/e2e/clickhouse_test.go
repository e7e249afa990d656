package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/corednstest"
)

const (
	pollTimeout = 15 * time.Second       // for rows to reach ClickHouse
	settle      = 500 * time.Millisecond // after the count is reached: no extra rows may follow
)

// selectJSON runs a SELECT and decodes its JSONEachRow lines into T.
func selectJSON[T any](t *testing.T, sql string) []T {
	t.Helper()
	out, err := ch.Query(sql + " FORMAT JSONEachRow")
	if err != nil {
		t.Fatal(err)
	}
	var rows []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r T
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("decoding %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// count returns the number of rows of db.responses, or an error while the table is missing.
func count(db string) (int, error) {
	n, err := corednstest.Count(ch, db, "responses", 2*time.Minute) // the timeout of ch.Query
	return int(n), err
}

// waitResponses waits until db.responses holds at least least rows, then checks, after
// a while, that it holds no more than most (every answer is recorded once, not twice).
func waitResponses(t *testing.T, db string, least, most int) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	var n int
	var err error
	for {
		n, err = count(db)
		if err == nil && n >= least {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s.responses: %d rows after %v, want %d (last error: %v)", db, n, pollTimeout, least, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
	if n, err = count(db); err != nil || n < least || n > most {
		t.Fatalf("%s.responses: %d rows (error %v), want %d to %d", db, n, err, least, most)
	}
}

// responseRow is one row of the responses table.
type responseRow struct {
	T          int64  `json:"t"`  // seconds
	Ms         int64  `json:"ms"` // milliseconds within the second
	Sensor     string `json:"sensor"`
	Server     string `json:"server"`
	Transport  string `json:"transport"`
	Client     string `json:"client"` // hex
	Qname      string `json:"qname"`
	Qtype      string `json:"qtype"`
	Qclass     string `json:"qclass"`
	Rcode      string `json:"rcode"`
	Flags      uint16 `json:"flags"`
	Size       uint32 `json:"size"`
	DurationUs uint32 `json:"duration_us"`
	BatchID    string `json:"batch_id"`

	AnName  []string `json:"an_name"`
	AnType  []string `json:"an_type"`
	AnClass []string `json:"an_class"`
	AnTTL   []uint32 `json:"an_ttl"`
	AnData  []string `json:"an_data"`
	NsName  []string `json:"ns_name"`
	NsType  []string `json:"ns_type"`
	NsClass []string `json:"ns_class"`
	NsTTL   []uint32 `json:"ns_ttl"`
	NsData  []string `json:"ns_data"`
}

func (r responseRow) unixMilli() int64 { return r.T*1000 + r.Ms }

func (r responseRow) response() response {
	return response{
		Transport: r.Transport, Qname: r.Qname, Qtype: r.Qtype, Qclass: r.Qclass, Rcode: r.Rcode,
		Flags: r.Flags, Size: r.Size,
		Answer:    zipRRs(r.AnName, r.AnType, r.AnClass, r.AnTTL, r.AnData),
		Authority: zipRRs(r.NsName, r.NsType, r.NsClass, r.NsTTL, r.NsData),
	}
}

func zipRRs(name, typ, class []string, ttl []uint32, data []string) []rr {
	out := make([]rr, 0, len(name))
	for i := range name {
		r := rr{Name: name[i]}
		// Nested columns have equal lengths; a short one shows up as a mismatch.
		if i < len(typ) {
			r.Type = typ[i]
		}
		if i < len(class) {
			r.Class = class[i]
		}
		if i < len(ttl) {
			r.TTL = ttl[i]
		}
		if i < len(data) {
			r.Data = data[i]
		}
		out = append(out, r)
	}
	if len(typ) != len(name) || len(class) != len(name) || len(ttl) != len(name) || len(data) != len(name) {
		out = append(out, rr{Name: "(nested columns of unequal length)"})
	}
	return out
}

// responses returns all rows of db.responses in time order. Old servers store whole
// seconds in time and the milliseconds in time_ms; new ones have DateTime64(3).
func responses(t *testing.T, db string) []responseRow {
	t.Helper()
	ms := "toUInt16(toUnixTimestamp64Milli(time) % 1000)"
	out, err := ch.Query("SELECT count() FROM system.columns WHERE database = '" + db + "' AND table = 'responses' AND name = 'time_ms'")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) == "1" {
		ms = "time_ms"
	}
	return selectJSON[responseRow](t, fmt.Sprintf(`SELECT toUnixTimestamp(time) AS t, %s AS ms,
    sensor, server, transport, hex(client) AS client, qname, qtype, qclass, rcode, flags, size, duration_us,
    toString(batch_id) AS batch_id,
    answer.name AS an_name, answer.type AS an_type, answer.class AS an_class, answer.ttl AS an_ttl, answer.data AS an_data,
    authority.name AS ns_name, authority.type AS ns_type, authority.class AS ns_class, authority.ttl AS ns_ttl,
    authority.data AS ns_data
FROM %s.responses ORDER BY t, ms`, ms, db))
}

// historyRow is one row of the history view.
type historyRow struct {
	RRName string `json:"rrname"`
	RRType string `json:"rrtype"`
	RData  string `json:"rdata"`
	First  int64  `json:"first"` // seconds
	Last   int64  `json:"last"`
	Count  int    `json:"n"`
}

func (h historyRow) String() string {
	return fmt.Sprintf("%s %s %s first=%s last=%s count=%d", h.RRName, h.RRType, h.RData,
		time.Unix(h.First, 0).UTC().Format(time.TimeOnly), time.Unix(h.Last, 0).UTC().Format(time.TimeOnly), h.Count)
}

func history(t *testing.T, db string) []historyRow {
	t.Helper()
	return selectJSON[historyRow](t, `SELECT rrname, rrtype, rdata, toUnixTimestamp(time_first) AS first,
    toUnixTimestamp(time_last) AS last, toUInt32(count) AS n
FROM `+db+`.history ORDER BY rrname, rrtype, rdata`)
}

// historyKey identifies a history row.
type historyKey struct{ Name, Type, Data string }

func historyMap(rows []historyRow) map[historyKey]historyRow {
	m := make(map[historyKey]historyRow, len(rows))
	for _, h := range rows {
		m[historyKey{h.RRName, h.RRType, h.RData}] = h
	}
	return m
}
