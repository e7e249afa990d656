package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"

	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
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
	bulkWindow         = 500   // inputs answered together
	bulkBuffered       = 50000 // most result rows held for one window
	pivotMaxDepth      = 8
	pivotMaxAddrs      = 256
	aliasMaxDepth      = 4
	asofWindow         = 24 * time.Hour // answers older than this before T are only a fallback
	AsOfRows           = 1000
	writeGrace         = 30 * time.Second // per streamed chunk
)

// ndjson streams JSON lines, flushing every so often so a large answer is never held.
type ndjson struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	bw    *bufio.Writer
	enc   *json.Encoder
	lines int
}

func newNDJSON(w http.ResponseWriter) *ndjson {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(writeGrace))
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &ndjson{w: w, rc: rc, bw: bw, enc: enc}
}

func (s *ndjson) write(v any) error {
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	s.lines++
	if s.lines%256 == 0 {
		return s.flush()
	}
	return nil
}

func (s *ndjson) flush() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	s.rc.SetWriteDeadline(time.Now().Add(writeGrace))
	return s.rc.Flush()
}

// nativeTime is a time in results: RFC 3339, UTC.
func nativeTime(sec uint32) string { return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339) }

// nativeRecord is one history result.
type NativeRecord struct {
	RRName    string         `json:"rrname"`
	RRType    string         `json:"rrtype"`
	RData     string         `json:"rdata"`
	TimeFirst string         `json:"time_first"`
	TimeLast  string         `json:"time_last"`
	Count     uint64         `json:"count"`
	Aliases   *[]nativeAlias `json:"aliases,omitempty"`
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
	QName     string `json:"qname"`
	QType     string `json:"qtype"`
	RCode     string `json:"rcode"`
	TimeFirst string `json:"time_first"`
	TimeLast  string `json:"time_last"`
	Count     uint64 `json:"count"`
}

type NativeTrailer struct {
	Done   bool   `json:"done"`
	Count  int    `json:"count"`
	Cursor string `json:"cursor,omitempty"`
}

func toNative(r history.Row) NativeRecord {
	return NativeRecord{RRName: r.RRName, RRType: r.RRType, RData: r.RData,
		TimeFirst: nativeTime(r.First), TimeLast: nativeTime(r.Last), Count: r.Count}
}

// listParams are the parameters every native list shares.
type listParams struct {
	rrtypes  []string
	from, to time.Time // window: seen at any time in it (time_last >= from, time_first <= to)
	limit    int
	cursor   []string
	id       uint64 // the query's fingerprint, in its cursors
	strict   bool   // window=strict: seen only inside the window (time_first >= from, time_last <= to)
}

var nativeListParams = map[string]bool{"rrtype": true, "from": true, "to": true, "window": true, "limit": true, "cursor": true}

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
	// The parameters as given identify the query; a relative window keeps the times it
	// had on the first page, carried in the cursor.
	p.id = param.QueryID(strconv.Itoa(int(table)), what, strings.Join(p.rrtypes, ","), v.Get("from"), v.Get("to"), strconv.FormatBool(p.strict))
	c, err := param.DecodeCursor("cursor", v.Get("cursor"), p.id, history.KeyLen(table))
	if err != nil {
		return p, err
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
}

// nativeList runs q and streams its page with the trailer.
func (a *Server) nativeList(w http.ResponseWriter, r *http.Request, q history.Query, p listParams, conv func(history.Row) any) {
	var rows []history.Row
	err := a.db.Run(r.Context(), q, func(h history.Row) bool { rows = append(rows, h); return true })
	if err != nil {
		a.fail(w, err)
		return
	}
	a.streamPage(w, rows, q.Table, p, conv)
}

func (a *Server) streamPage(w http.ResponseWriter, rows []history.Row, table history.Table, p listParams, conv func(history.Row) any) {
	limit := p.limit
	out := newNDJSON(w)
	t := NativeTrailer{Done: true}
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
		n, err := param.ParseName("name", r.PathValue("name"), true)
		if err != nil {
			a.fail(w, err)
			return
		}
		p, err := a.parseList(v, table, n.String())
		if err != nil {
			a.fail(w, err)
			return
		}
		q := history.Query{Table: table, Name: n}
		p.apply(&q)
		a.nativeList(w, r, q, p, toJSON)
	}
}

func nativeHistoryJSON(h history.Row) any { return toNative(h) }

func nativeNegativeJSON(h history.Row) any {
	return nativeNegative{QName: h.RRName, QType: h.RRType, RCode: h.RData,
		TimeFirst: nativeTime(h.First), TimeLast: nativeTime(h.Last), Count: h.Count}
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
	q := history.Query{Table: history.TableByIP, IP: ip}
	p.apply(&q)
	var rows []history.Row
	if err := a.db.Run(r.Context(), q, func(h history.Row) bool { rows = append(rows, h); return true }); err != nil {
		a.fail(w, err)
		return
	}
	var aliases map[string][]nativeAlias
	if withAliases && len(rows) > 0 {
		if aliases, err = a.aliasesOf(r, rows[:min(len(rows), p.limit)], q); err != nil {
			a.fail(w, err)
			return
		}
	}
	a.streamPage(w, rows, history.TableByIP, p, func(h history.Row) any {
		rec := toNative(h)
		if withAliases {
			al := aliases[h.RRName]
			if al == nil {
				al = []nativeAlias{}
			}
			rec.Aliases = &al
		}
		return rec
	})
}

// aliasesOf finds, for the rrnames of rows, the names whose CNAME chain led to them
// (up to aliasMaxDepth CNAMEs), in the same time window: the query names that ended at
// the addresses.
func (a *Server) aliasesOf(r *http.Request, rows []history.Row, base history.Query) (map[string][]nativeAlias, error) {
	out := map[string][]nativeAlias{}
	type node struct {
		root  string
		chain []string // from the alias down to root, root excluded
	}
	// frontier maps a name to the roots (rrnames of rows) it leads to and the path.
	frontier := map[string][]node{}
	for _, h := range rows {
		if _, ok := frontier[h.RRName]; !ok {
			frontier[h.RRName] = []node{{root: h.RRName}}
		}
	}
	seen := map[string]bool{}
	for depth := 0; depth < aliasMaxDepth && len(frontier) > 0; depth++ {
		names := make([]string, 0, len(frontier))
		for n := range frontier {
			names = append(names, n)
		}
		sort.Strings(names)
		q := history.Query{Table: history.TableByRdata, Names: names, RRTypes: []string{"CNAME"},
			Limit: nativeMaxLimit}
		base.Fence(&q)
		next := map[string][]node{}
		err := a.db.Run(r.Context(), q, func(h history.Row) bool {
			for _, nd := range frontier[h.Target] {
				key := nd.root + "\x00" + h.RRName
				if seen[key] || h.RRName == nd.root {
					continue
				}
				seen[key] = true
				chain := append([]string{h.RRName}, nd.chain...)
				full := append(append([]string(nil), chain...), nd.root)
				out[nd.root] = append(out[nd.root], nativeAlias{RRName: h.RRName, Chain: full,
					TimeFirst: nativeTime(h.First), TimeLast: nativeTime(h.Last), Count: h.Count})
				next[h.RRName] = append(next[h.RRName], node{root: nd.root, chain: chain})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		frontier = next
	}
	for k := range out {
		sort.Slice(out[k], func(i, j int) bool {
			x, y := out[k][i], out[k][j]
			if len(x.Chain) != len(y.Chain) {
				return len(x.Chain) < len(y.Chain)
			}
			return x.RRName < y.RRName
		})
	}
	return out, nil
}

// As-of: what the resolver answered for a name at an instant.

type asofRecord struct {
	RRName string `json:"rrname"`
	RRType string `json:"rrtype"`
	TTL    uint32 `json:"ttl"`
	RData  string `json:"rdata"`
}

type asofAnswer struct {
	QType      string       `json:"qtype"`
	RCode      string       `json:"rcode"`
	AnsweredAt string       `json:"answered_at"`
	TTL        uint32       `json:"ttl"`
	ValidUntil string       `json:"valid_until"`
	Covers     bool         `json:"covers"` // false: no answer's TTL covers T, this is the last one before it
	Chain      []string     `json:"chain"`
	Final      []asofRecord `json:"final"`
	Records    []asofRecord `json:"records"`
	Followed   bool         `json:"followed,omitempty"` // the chain was completed from the target's own answers
}

type asofResult struct {
	Name    string       `json:"name"`
	At      string       `json:"at"`
	Answers []asofAnswer `json:"answers"`
}

type AsOfRow struct {
	T         uint32
	Ms        uint16
	Qtype     string
	Rcode     string
	Names     []string
	Types     []string
	TTLs      []uint32
	Data      []string
	AuthTypes []string
	AuthTTLs  []uint32
}

func (r AsOfRow) ttl() uint32 {
	var min uint32
	first := true
	ttls := r.TTLs
	if len(ttls) == 0 {
		// A negative answer lives as long as its SOA says (RFC 2308: the SOA's TTL).
		for i, t := range r.AuthTypes {
			if t == "SOA" {
				ttls = r.AuthTTLs[i : i+1]
			}
		}
	}
	for _, t := range ttls {
		if first || t < min {
			min, first = t, false
		}
	}
	return min
}

func (a *Server) nativeAsOf(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"at": true, "rrtype": true}); err != nil {
		a.fail(w, err)
		return
	}
	n, err := param.ParseName("name", r.PathValue("name"), false)
	if err != nil {
		a.fail(w, err)
		return
	}
	at := a.Now().UTC()
	if s := v.Get("at"); s != "" {
		if at, err = param.ParseTime("at", s, at, true); err != nil {
			a.fail(w, err)
			return
		}
	}
	types, err := param.ParseRRTypes("rrtype", v["rrtype"])
	if err != nil {
		a.fail(w, err)
		return
	}
	answers, err := a.asof(r, n.Name, at, types, 0)
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(asofResult{Name: n.Name, At: at.Format(time.RFC3339), Answers: answers})
}

func (a *Server) asofRows(r *http.Request, name string, at time.Time, types []string, from int64) ([]AsOfRow, error) {
	conn, s, err := a.db.Get(r.Context())
	if err != nil {
		return nil, err
	}
	args := []any{record.Reverse(name), at.Unix(), from}
	if len(types) > 0 {
		args = append(args, history.GroupSet(types))
	}
	args = append(args, AsOfRows)
	ctx, cancel := a.db.QueryContext(r.Context())
	defer cancel()
	rows, err := conn.Query(ctx, history.AsOfQuery(s, types), args...)
	if err != nil {
		return nil, history.ClassifyError(err)
	}
	defer rows.Close()
	var out []AsOfRow
	for rows.Next() {
		var x AsOfRow
		if err := rows.Scan(&x.T, &x.Ms, &x.Qtype, &x.Rcode, &x.Names, &x.Types, &x.TTLs, &x.Data, &x.AuthTypes, &x.AuthTTLs); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, history.ClassifyError(rows.Err())
}

// asof picks, per query type, the last answer at or before at whose TTL covers at, or
// else the last answer before at (covers false), and completes its CNAME chain.
func (a *Server) asof(r *http.Request, name string, at time.Time, types []string, depth int) ([]asofAnswer, error) {
	rows, err := a.asofRows(r, name, at, types, max(at.Add(-asofWindow).Unix(), 0))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if rows, err = a.asofRows(r, name, at, types, 0); err != nil {
			return nil, err
		}
	}
	best := map[string]AsOfRow{}
	covers := map[string]bool{}
	for _, x := range rows { // newest first
		c := int64(x.T)+int64(x.ttl()) >= at.Unix()
		if _, ok := best[x.Qtype]; !ok || c && !covers[x.Qtype] {
			best[x.Qtype], covers[x.Qtype] = x, c
		}
	}
	qtypes := make([]string, 0, len(best))
	for t := range best {
		qtypes = append(qtypes, t)
	}
	sort.Strings(qtypes)
	answers := []asofAnswer{}
	for _, t := range qtypes {
		x := best[t]
		ans := asofAnswer{QType: t, RCode: x.Rcode, TTL: x.ttl(), Covers: covers[t],
			AnsweredAt: time.UnixMilli(int64(x.T)*1000 + int64(x.Ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			ValidUntil: time.Unix(int64(x.T)+int64(x.ttl()), 0).UTC().Format(time.RFC3339),
			Records:    []asofRecord{}, Final: []asofRecord{}}
		for i := range x.Names {
			ans.Records = append(ans.Records, asofRecord{RRName: x.Names[i], RRType: x.Types[i], TTL: x.TTLs[i], RData: x.Data[i]})
		}
		ans.Chain = []string{name}
		cur := name
		for hop := 0; hop < 16; hop++ {
			next := ""
			for _, rec := range ans.Records {
				if rec.RRName == cur && rec.RRType == "CNAME" && t != "CNAME" {
					next = rec.RData
					break
				}
			}
			if next == "" || contains(ans.Chain, next) {
				break
			}
			ans.Chain = append(ans.Chain, next)
			cur = next
		}
		for _, rec := range ans.Records {
			if rec.RRName == cur && (rec.RRType == t || rec.RRType != "CNAME" && t == "ANY") {
				ans.Final = append(ans.Final, rec)
			}
		}
		if len(ans.Final) == 0 && len(ans.Chain) > 1 && x.Rcode == "NOERROR" && depth < pivotMaxDepth {
			// The answer stopped at a CNAME: the target's own answers at T finish it.
			sub, err := a.asof(r, cur, at, []string{t}, depth+1)
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				if s.QType == t {
					ans.Followed = true
					for _, c := range s.Chain[1:] {
						ans.Chain = append(ans.Chain, c)
					}
					ans.Final = s.Final
					ans.Covers = ans.Covers && s.Covers
				}
			}
		}
		answers = append(answers, ans)
	}
	return answers, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Pivot: the addresses a name resolved to in a window and the other names that
// resolved to each of them in that window.

type pivotNode struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // name or ip
	Value string `json:"value"`
}

type pivotEdge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	RRType    string `json:"rrtype"`
	TimeFirst string `json:"time_first"`
	TimeLast  string `json:"time_last"`
	Count     uint64 `json:"count"`
}

type pivotResult struct {
	Name      string      `json:"name"`
	From      string      `json:"from,omitempty"`
	To        string      `json:"to,omitempty"`
	Nodes     []pivotNode `json:"nodes"`
	Edges     []pivotEdge `json:"edges"`
	Truncated bool        `json:"truncated"`
}

func (a *Server) nativePivot(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"from": true, "to": true, "window": true, "limit": true, "aliases": true}); err != nil {
		a.fail(w, err)
		return
	}
	n, err := param.ParseName("name", r.PathValue("name"), false)
	if err != nil {
		a.fail(w, err)
		return
	}
	withAliases, err := param.ParseBool("aliases", v.Get("aliases"), true)
	if err != nil {
		a.fail(w, err)
		return
	}
	p, err := a.parseList(url.Values{"from": v["from"], "to": v["to"], "window": v["window"]}, history.TableByName, "")
	if err != nil {
		a.fail(w, err)
		return
	}
	limit, err := param.ParseLimit("limit", v.Get("limit"), 100, 1, nativeMaxLimit)
	if err != nil {
		a.fail(w, err)
		return
	}
	var window history.Query
	p.apply(&window)
	res := pivotResult{Name: n.Name, Nodes: []pivotNode{}, Edges: []pivotEdge{}}
	if !p.from.IsZero() {
		res.From = p.from.Format(time.RFC3339)
	}
	if !p.to.IsZero() {
		res.To = p.to.Format(time.RFC3339)
	}
	nodes := map[string]pivotNode{}
	edges := map[string]pivotEdge{}
	addNode := func(kind, value string) string {
		id := kind + ":" + value
		nodes[id] = pivotNode{ID: id, Kind: kind, Value: value}
		return id
	}
	addEdge := func(from, to string, h history.Row) {
		k := from + "\x00" + to + "\x00" + h.RRType
		edges[k] = pivotEdge{From: from, To: to, RRType: h.RRType, TimeFirst: nativeTime(h.First), TimeLast: nativeTime(h.Last), Count: h.Count}
	}
	addNode("name", n.Name)
	var addrs []history.Row
	frontier := []string{n.Name}
	seen := map[string]bool{n.Name: true}
	for depth := 0; depth < pivotMaxDepth && len(frontier) > 0; depth++ {
		q := history.Query{Table: history.TableByName, Names: frontier, RRTypes: []string{"A", "AAAA", "CNAME"},
			Limit: nativeMaxLimit + 1}
		window.Fence(&q)
		var next []string
		err := a.db.Run(r.Context(), q, func(h history.Row) bool {
			from := addNode("name", h.RRName)
			switch h.RRType {
			case "CNAME":
				addEdge(from, addNode("name", h.RData), h)
				if !seen[h.RData] {
					seen[h.RData] = true
					next = append(next, h.RData)
				}
			default:
				addEdge(from, addNode("ip", h.RData), h)
				addrs = append(addrs, h)
			}
			return true
		})
		if err != nil {
			a.fail(w, err)
			return
		}
		sort.Strings(next)
		frontier = next
	}
	if len(addrs) > pivotMaxAddrs {
		addrs, res.Truncated = addrs[:pivotMaxAddrs], true
	}
	var owners []history.Row
	ownerSeen := map[string]bool{}
	// The other names of all the addresses in one query, at most limit per address.
	var ips []netip.Addr
	ipSeen := map[netip.Addr]bool{}
	for _, h := range addrs {
		ip, err := param.ParseIP("ip", h.RData)
		if err != nil || ipSeen[ip.Lo] {
			continue
		}
		ipSeen[ip.Lo] = true
		ips = append(ips, ip.Lo)
	}
	if len(ips) > 0 {
		q := history.Query{Table: history.TableByIP, IPs: ips, LimitBy: limit + 1, Limit: len(ips) * (limit + 1)}
		window.Fence(&q)
		got := map[string]int{}
		err := a.db.Run(r.Context(), q, func(o history.Row) bool {
			if got[o.IPText]++; got[o.IPText] > limit {
				res.Truncated = true
				return true
			}
			addEdge(addNode("name", o.RRName), addNode("ip", o.RData), o)
			if !ownerSeen[o.RRName] {
				ownerSeen[o.RRName] = true
				owners = append(owners, o)
			}
			return true
		})
		if err != nil {
			a.fail(w, err)
			return
		}
	}
	if withAliases && len(owners) > 0 {
		// The query names whose CNAME chains ended at those names resolved there too.
		aliases, err := a.aliasesOf(r, owners, window)
		if err != nil {
			a.fail(w, err)
			return
		}
		for _, al := range aliases {
			for _, x := range al {
				from, to := addNode("name", x.Chain[0]), addNode("name", x.Chain[1])
				edges[from+"\x00"+to+"\x00CNAME"] = pivotEdge{From: from, To: to, RRType: "CNAME", TimeFirst: x.TimeFirst, TimeLast: x.TimeLast, Count: x.Count}
			}
		}
	}
	for _, nd := range nodes {
		res.Nodes = append(res.Nodes, nd)
	}
	sort.Slice(res.Nodes, func(i, j int) bool { return res.Nodes[i].ID < res.Nodes[j].ID })
	for _, e := range edges {
		res.Edges = append(res.Edges, e)
	}
	sort.Slice(res.Edges, func(i, j int) bool {
		x, y := res.Edges[i], res.Edges[j]
		if x.From != y.From {
			return x.From < y.From
		}
		if x.To != y.To {
			return x.To < y.To
		}
		return x.RRType < y.RRType
	})
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(res)
}

// Bulk: many names and addresses in one request, one NDJSON answer.

type bulkInput struct {
	index int
	text  string
	name  history.NameSpec
	ip    history.IPSpec
	isIP  bool
	err   error
}

type BulkLine struct {
	Input string `json:"input"`
	Index int    `json:"index"`
	NativeRecord
}

type bulkDone struct {
	Input     string `json:"input"`
	Index     int    `json:"index"`
	Done      bool   `json:"done"`
	Count     int    `json:"count"`
	Limited   bool   `json:"limited"`
	Error     string `json:"error,omitempty"`
	Parameter string `json:"parameter,omitempty"`
}

// readBulk reads the body: one input per line, either plain text or a JSON object
// {"input": "..."} (also "name" or "ip").
func readBulk(body io.Reader) ([]bulkInput, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var in []bulkInput
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if len(in) == BulkMaxInputs {
			return nil, param.Bad("body", "more than %d inputs", BulkMaxInputs)
		}
		text := line
		if strings.HasPrefix(line, "{") {
			var o struct{ Input, Name, IP string }
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				return nil, param.Bad("body", "line %d: not a JSON object: %v", len(in)+1, err)
			}
			text = o.Input + o.Name + o.IP
		}
		b := bulkInput{index: len(in), text: text}
		if param.LooksLikeIP(text) {
			b.isIP = true
			b.ip, b.err = param.ParseIP("input", text)
		} else {
			b.name, b.err = param.ParseName("input", text, true)
		}
		in = append(in, b)
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, param.Bad("body", "larger than %d bytes", apiMaxBody)
		}
		return nil, param.Bad("body", "%v", err)
	}
	if len(in) == 0 {
		return nil, param.Bad("body", "no inputs: send one name, address or prefix per line")
	}
	return in, nil
}

func (a *Server) nativeBulk(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"rrtype": true, "from": true, "to": true, "window": true, "limit": true}); err != nil {
		a.fail(w, err)
		return
	}
	p, err := a.parseList(url.Values{"rrtype": v["rrtype"], "from": v["from"], "to": v["to"], "window": v["window"]}, history.TableByName, "")
	if err != nil {
		a.fail(w, err)
		return
	}
	if p.limit, err = param.ParseLimit("limit", v.Get("limit"), bulkDefaultLimit, 1, nativeMaxLimit); err != nil {
		a.fail(w, err)
		return
	}
	inputs, err := readBulk(http.MaxBytesReader(w, r.Body, apiMaxBody))
	if err != nil {
		a.fail(w, err)
		return
	}
	// Inputs are answered in windows: the exact names of a window in one query (at most
	// limit+1 rows per name), then each input of the window in order, the others with a
	// query each. Memory holds one window's results: at most bulkBuffered rows.
	window := max(1, min(bulkWindow, bulkBuffered/p.limit))
	out := newNDJSON(w)
	failed := func(err error) {
		status, _, msg := a.errorStatus(err)
		if out.lines == 0 && status >= 500 {
			a.fail(w, err)
			return
		}
		out.write(APIError{Error: msg})
		out.flush()
	}
	total := 0
	for start := 0; start < len(inputs); start += window {
		end := min(start+window, len(inputs))
		results := make([][]history.Row, end-start)
		limited := make([]bool, end-start)
		byName := map[string][]int{}
		var names []string
		for i := start; i < end; i++ {
			if in := inputs[i]; in.err == nil && !in.isIP && in.name.Kind == history.NameExact {
				if _, ok := byName[in.name.Name]; !ok {
					names = append(names, in.name.Name)
				}
				byName[in.name.Name] = append(byName[in.name.Name], i-start)
			}
		}
		if len(names) > 0 {
			q := history.Query{Table: history.TableByName, Names: names}
			p.apply(&q)
			q.LimitBy, q.Limit = p.limit+1, len(names)*(p.limit+1)
			counts := map[string]int{}
			err := a.db.Run(r.Context(), q, func(h history.Row) bool {
				counts[h.RRName]++
				for _, j := range byName[h.RRName] {
					if counts[h.RRName] > p.limit {
						limited[j] = true
						continue
					}
					results[j] = append(results[j], h)
				}
				return true
			})
			if err != nil {
				failed(err)
				return
			}
		}
		for i := start; i < end; i++ {
			in, j := inputs[i], i-start
			done := bulkDone{Input: in.text, Index: i, Done: true}
			switch {
			case in.err != nil:
				_, done.Parameter, done.Error = a.errorStatus(in.err)
				done.Done = false
			case in.isIP || in.name.Kind != history.NameExact:
				q := history.Query{Table: history.TableByName, Name: in.name}
				if in.isIP {
					q = history.Query{Table: history.TableByIP, IP: in.ip}
				}
				p.apply(&q)
				err := a.db.Run(r.Context(), q, func(h history.Row) bool {
					if len(results[j]) == p.limit {
						limited[j] = true
						return false
					}
					results[j] = append(results[j], h)
					return true
				})
				if err != nil {
					if status, _, _ := a.errorStatus(err); status >= 500 {
						failed(err)
						return
					}
					_, done.Parameter, done.Error = a.errorStatus(err)
					done.Done = false
				}
			}
			for _, h := range results[j] {
				if out.write(BulkLine{Input: in.text, Index: i, NativeRecord: toNative(h)}) != nil {
					return
				}
			}
			done.Count, done.Limited = len(results[j]), limited[j]
			results[j] = nil
			total++
			out.write(done)
		}
	}
	out.write(NativeTrailer{Done: true, Count: total})
	out.flush()
}
