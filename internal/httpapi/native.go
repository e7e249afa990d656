package httpapi

import (
	"context"

	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The native JSON API under /api/v1/. Lists stream as NDJSON: one result per line,
// then a trailer line {"done":true,"count":N[,"cursor":C]}; a request that fails
// midway ends with an {"error":...} line and no trailer.

const (
	nativeDefaultLimit = 1000
	nativeMaxLimit     = 10000
	BulkMaxInputs      = 10000
	bulkDefaultLimit   = 100
	bulkWindow         = 500              // inputs answered together
	bulkBuffered       = 50000            // most result rows held for one window
	writeGrace         = 30 * time.Second // per streamed chunk
)

// nativeTime is a time in results: RFC 3339, UTC.
func nativeTime(sec uint32) string { return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339) }

// NativeRecord is one history result.
type NativeRecord struct {
	RRName    string `json:"rrname"`
	RRType    string `json:"rrtype"`
	RData     string `json:"rdata"`
	TimeFirst string `json:"time_first"`
	TimeLast  string `json:"time_last"`
	Count     uint64 `json:"count"`
	// Schema version 3 detail; absent for tuples recorded before it whose raw rows had
	// expired by the upgrade.
	Sensors []string       `json:"sensors,omitempty"`
	TTLMin  *uint32        `json:"ttl_min,omitempty"`
	TTLMax  *uint32        `json:"ttl_max,omitempty"`
	Aliases *[]nativeAlias `json:"aliases,omitempty"`
}

// nativeAlias is a name whose CNAME chain ended at a result's rrname.
type nativeAlias struct {
	RRName    string   `json:"rrname"`
	Chain     []string `json:"chain"`
	TimeFirst string   `json:"time_first"`
	TimeLast  string   `json:"time_last"`
	Count     uint64   `json:"count"`
}

type nativeNegative struct {
	QName     string     `json:"qname"`
	QType     string     `json:"qtype"`
	RCode     string     `json:"rcode"`
	Negative  string     `json:"negative"` // NXDOMAIN, or NODATA (NOERROR without answer)
	TimeFirst string     `json:"time_first"`
	TimeLast  string     `json:"time_last"`
	Count     uint64     `json:"count"`
	Sensors   []string   `json:"sensors"`
	SOA       *nativeSOA `json:"soa,omitempty"` // of the newest answer of the group
}

// nativeSOA is the SOA record of a negative answer's authority section.
type nativeSOA struct {
	RRName string `json:"rrname"`
	TTL    uint32 `json:"ttl"`
	RData  string `json:"rdata"`
}

type NativeTrailer struct {
	Done   bool   `json:"done"`
	Count  int    `json:"count"`
	Cursor string `json:"cursor,omitempty"`
	// Total is how many results all pages hold (total=true), when counting is cheap;
	// TotalNote says why it was not counted otherwise.
	Total     *int64 `json:"total,omitempty"`
	TotalNote string `json:"total_note,omitempty"`
	// SearchedFor is the canonical name searched when the input was rewritten (a URL,
	// a defanged name, Unicode labels).
	SearchedFor string `json:"searched_for,omitempty"`
}

func toNative(r history.Row) NativeRecord {
	n := NativeRecord{RRName: r.RRName, RRType: r.RRType, RData: r.RData,
		TimeFirst: nativeTime(r.First), TimeLast: nativeTime(r.Last), Count: r.Count}
	if len(r.Sensors) > 0 {
		n.Sensors, n.TTLMin, n.TTLMax = r.Sensors, &r.TTLMin, &r.TTLMax
	}
	return n
}

// listParams are the parameters every native list shares.
type listParams struct {
	rrtypes  []string
	from, to time.Time // window: seen at any time in it (time_last >= from, time_first <= to)
	limit    int
	cursor   []string
	id       uint64   // the query's fingerprint, in its cursors
	strict   bool     // window=strict: seen only inside the window (time_first >= from, time_last <= to)
	csv      *csvList // format=csv, else nil: NDJSON
	total    bool     // total=true: count all results in the trailer, where cheap
	sensors  []string // sensor=: only tuples these sensors saw
	// searched is the canonical input when it differs from what was sent.
	searched string
}

// csvList is how a list answers in CSV: its download's name and header line.
type csvList struct {
	file string
	cols []string
}

var nativeListParams = map[string]bool{"rrtype": true, "from": true, "to": true, "window": true, "limit": true, "cursor": true, "format": true, "total": true, "sensor": true}

// tableMode is the path's name of a list, in CSV file names.
var tableMode = map[history.Table]string{history.TableByName: "name", history.TableByIP: "ip", history.TableByRdata: "rdata", history.TableNegative: "negative"}

// parseFormat reads format; csv gives the list its CSV shape.
func parseFormat(v url.Values, p *listParams, table history.Table, value string, aliases bool) error {
	f, err := param.ParseFormat("format", v.Get("format"))
	if err != nil || f != "csv" {
		return err
	}
	p.csv = &csvList{file: csvFileName(tableMode[table], value), cols: csvColumns(table == history.TableNegative, aliases)}
	return nil
}

// checkParams rejects unknown parameters, so that a typo is not silently ignored.
func checkParams(v url.Values, allowed ...map[string]bool) error {
	for k := range v {
		ok := false
		for _, a := range allowed {
			ok = ok || a[k]
		}
		if !ok {
			return param.Bad(k, "unknown parameter")
		}
	}
	return nil
}

func (a *Server) parseList(v url.Values, table history.Table, what string) (listParams, error) {
	var p listParams
	var err error
	if p.rrtypes, err = param.ParseRRTypes("rrtype", v["rrtype"]); err != nil {
		return p, err
	}
	now := a.Now()
	if s := v.Get("from"); s != "" {
		if p.from, err = param.ParseTime("from", s, now, true); err != nil {
			return p, err
		}
	}
	if s := v.Get("to"); s != "" {
		if p.to, err = param.ParseTime("to", s, now, true); err != nil {
			return p, err
		}
	}
	switch v.Get("window") {
	case "", "loose":
	case "strict":
		p.strict = true
	default:
		return p, param.Bad("window", "must be loose (seen at any time in it, the default) or strict (seen only inside it)")
	}
	if !p.from.IsZero() && !p.to.IsZero() && p.to.Before(p.from) {
		return p, param.Bad("to", "before from")
	}
	if p.limit, err = param.ParseLimit("limit", v.Get("limit"), nativeDefaultLimit, 1, nativeMaxLimit); err != nil {
		return p, err
	}
	if p.total, err = param.ParseBool("total", v.Get("total"), false); err != nil {
		return p, err
	}
	if p.sensors, err = param.ParseSensors("sensor", v["sensor"]); err != nil {
		return p, err
	}
	// The parameters as given identify the query; a relative window keeps the times it
	// had on the first page, carried in the cursor. Without sensor= the fingerprint is
	// what it was before sensors existed, so cursors stay valid across an upgrade.
	parts := []string{strconv.Itoa(int(table)), what, strings.Join(p.rrtypes, ","), v.Get("from"), v.Get("to"), strconv.FormatBool(p.strict)}
	if len(p.sensors) > 0 {
		parts = append(parts, "sensor", strings.Join(p.sensors, "\x00"))
	}
	p.id = param.QueryID(parts...)
	c, err := param.DecodeCursor("cursor", v.Get("cursor"), p.id, history.KeyLen(table))
	if err != nil {
		return p, err
	}
	if c.Key != nil && !history.ValidKey(table, c.Key) {
		return p, param.Bad("cursor", "not a cursor returned by this server")
	}
	p.cursor = c.Key
	if c.From > 0 {
		p.from = time.Unix(c.From, 0).UTC()
	}
	if c.To > 0 {
		p.to = time.Unix(c.To, 0).UTC()
	}
	return p, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (p listParams) apply(q *history.Query) {
	q.RRTypes = p.rrtypes
	from, to := &q.LastAfter, &q.FirstBefore
	if p.strict {
		from, to = &q.FirstAfter, &q.LastBefore
	}
	if !p.from.IsZero() {
		*from = max(p.from.Unix(), 1)
	}
	if !p.to.IsZero() {
		*to = max(p.to.Unix(), 1)
	}
	q.After = p.cursor
	q.Limit = p.limit + 1 // one more tells whether there is a next page
	q.Sensors = p.sensors
	q.Detail = true
}

// nativeList runs q and streams its page with the trailer.
func (a *Server) nativeList(w http.ResponseWriter, r *http.Request, q history.Query, p listParams, conv func(history.Row) any) {
	var rows []history.Row
	err := a.db.Run(r.Context(), q, func(h history.Row) bool { rows = append(rows, h); return true })
	if err != nil {
		a.fail(w, err)
		return
	}
	a.streamPage(w, r, rows, q.Table, p, conv, a.total(r.Context(), q, p, rows))
}

// streamPage writes a page read whole: the slot is given back first, so that a slow
// reader holds none.
func (a *Server) streamPage(w http.ResponseWriter, r *http.Request, rows []history.Row, table history.Table, p listParams, conv func(history.Row) any, t NativeTrailer) {
	releaseSlot(r)
	limit := p.limit
	if p.csv != nil {
		var results []any
		cursor := ""
		for i, h := range rows {
			if i == limit {
				cursor = param.Cursor{Query: p.id, Key: rows[i-1].Key(table), From: unixOrZero(p.from), To: unixOrZero(p.to)}.Encode()
				break
			}
			results = append(results, conv(h))
		}
		writeCSVPage(w, r, p.csv.file, p.csv.cols, results, cursor)
		return
	}
	out := newNDJSON(w, r)
	t.Done, t.SearchedFor = true, p.searched
	for i, h := range rows {
		if i == limit {
			t.Cursor = param.Cursor{Query: p.id, Key: rows[i-1].Key(table), From: unixOrZero(p.from), To: unixOrZero(p.to)}.Encode()
			break
		}
		if out.write(conv(h)) != nil {
			return
		}
		t.Count++
	}
	out.write(t)
	out.flush()
}

// nativeByName serves the lookups keyed by one name (or name wildcard) in the path:
// history of a name, names whose data is a name, negative answers for a name.
func (a *Server) nativeByName(table history.Table, toJSON func(history.Row) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if err := checkParams(v, nativeListParams); err != nil {
			a.fail(w, err)
			return
		}
		raw := r.PathValue("name")
		if table == history.TableByRdata && param.LooksLikeIP(raw) {
			writeHint(w, http.StatusBadRequest, "name", "name: "+raw+" is an address, not a name: addresses in record data are searched by /api/v1/ip/",
				"/api/v1/ip/"+url.PathEscape(raw))
			return
		}
		n, rewritten, err := param.ParseNameAs("name", raw, true)
		if err != nil {
			a.fail(w, err)
			return
		}
		p, err := a.parseList(v, table, n.String())
		if err != nil {
			a.fail(w, err)
			return
		}
		if err := parseFormat(v, &p, table, r.PathValue("name"), false); err != nil {
			a.fail(w, err)
			return
		}
		w.Header().Set("X-Searched-For", n.String())
		if rewritten {
			p.searched = n.String()
		}
		q := history.Query{Table: table, Name: n}
		p.apply(&q)
		a.nativeList(w, r, q, p, toJSON)
	}
}

func nativeHistoryJSON(h history.Row) any { return toNative(h) }

func nativeNegativeJSON(h history.Row) any {
	n := nativeNegative{QName: h.RRName, QType: h.RRType, RCode: h.RData, Negative: h.Negative(),
		TimeFirst: nativeTime(h.First), TimeLast: nativeTime(h.Last), Count: h.Count, Sensors: h.Sensors}
	if n.Sensors == nil {
		n.Sensors = []string{}
	}
	if h.SOAData != "" {
		n.SOA = &nativeSOA{RRName: h.SOAName, TTL: h.SOATTL, RData: h.SOAData}
	}
	return n
}

func (a *Server) nativeIP(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, nativeListParams, map[string]bool{"aliases": true}); err != nil {
		a.fail(w, err)
		return
	}
	ip, err := param.ParseIP("ip", r.PathValue("ip"))
	if err != nil {
		a.fail(w, err)
		return
	}
	withAliases, err := param.ParseBool("aliases", v.Get("aliases"), true)
	if err != nil {
		a.fail(w, err)
		return
	}
	what := ip.Lo.String() + "-" + ip.Hi.String()
	p, err := a.parseList(v, history.TableByIP, what)
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := parseFormat(v, &p, history.TableByIP, r.PathValue("ip"), withAliases); err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("X-Searched-For", searchedRange(ip))
	q := history.Query{Table: history.TableByIP, IP: ip}
	p.apply(&q)
	var rows []history.Row
	if err := a.db.Run(r.Context(), q, func(h history.Row) bool { rows = append(rows, h); return true }); err != nil {
		a.fail(w, err)
		return
	}
	var aliases map[string][]nativeAlias
	if withAliases && len(rows) > 0 {
		if aliases, err = a.aliasesOf(r.Context(), rows[:min(len(rows), p.limit)], q); err != nil {
			a.fail(w, err)
			return
		}
	}
	a.streamPage(w, r, rows, history.TableByIP, p, func(h history.Row) any {
		rec := toNative(h)
		if withAliases {
			al := aliases[h.RRName]
			if al == nil {
				al = []nativeAlias{}
			}
			rec.Aliases = &al
		}
		return rec
	}, a.total(r.Context(), q, p, rows))
}

// aliasesOf is history's aliases of rows in the JSON of results.
func (a *Server) aliasesOf(ctx context.Context, rows []history.Row, window history.Query) (map[string][]nativeAlias, error) {
	found, err := a.db.Aliases(ctx, rows, window)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]nativeAlias, len(found))
	for root, al := range found {
		for _, x := range al {
			out[root] = append(out[root], nativeAlias{RRName: x.RRName, Chain: x.Chain,
				TimeFirst: nativeTime(x.First), TimeLast: nativeTime(x.Last), Count: x.Count})
		}
	}
	return out, nil
}
