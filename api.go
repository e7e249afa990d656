package passivedns

import (
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
	bulkMaxInputs      = 10000
	bulkDefaultLimit   = 100
	bulkWindow         = 500   // inputs answered together
	bulkBuffered       = 50000 // most result rows held for one window
	pivotMaxDepth      = 8
	pivotMaxAddrs      = 256
	aliasMaxDepth      = 4
	asofWindow         = 24 * time.Hour // answers older than this before T are only a fallback
	asofRows           = 1000
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
type nativeRecord struct {
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

type nativeTrailer struct {
	Done   bool   `json:"done"`
	Count  int    `json:"count"`
	Cursor string `json:"cursor,omitempty"`
}

func toNative(r histRow) nativeRecord {
	return nativeRecord{RRName: r.rrname, RRType: r.rrtype, RData: r.rdata,
		TimeFirst: nativeTime(r.first), TimeLast: nativeTime(r.last), Count: r.count}
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
			return badParam(k, "unknown parameter")
		}
	}
	return nil
}

func (a *httpAPI) parseList(v url.Values, table histTable, what string) (listParams, error) {
	var p listParams
	var err error
	if p.rrtypes, err = parseRRTypes("rrtype", v["rrtype"]); err != nil {
		return p, err
	}
	now := a.now()
	if s := v.Get("from"); s != "" {
		if p.from, err = parseTime("from", s, now, true); err != nil {
			return p, err
		}
	}
	if s := v.Get("to"); s != "" {
		if p.to, err = parseTime("to", s, now, true); err != nil {
			return p, err
		}
	}
	switch v.Get("window") {
	case "", "loose":
	case "strict":
		p.strict = true
	default:
		return p, badParam("window", "must be loose (seen at any time in it, the default) or strict (seen only inside it)")
	}
	if !p.from.IsZero() && !p.to.IsZero() && p.to.Before(p.from) {
		return p, badParam("to", "before from")
	}
	if p.limit, err = parseLimit("limit", v.Get("limit"), nativeDefaultLimit, 1, nativeMaxLimit); err != nil {
		return p, err
	}
	// The parameters as given identify the query; a relative window keeps the times it
	// had on the first page, carried in the cursor.
	p.id = queryID(strconv.Itoa(int(table)), what, strings.Join(p.rrtypes, ","), v.Get("from"), v.Get("to"), strconv.FormatBool(p.strict))
	c, err := decodeCursor("cursor", v.Get("cursor"), p.id, keyLen(table))
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

func (p listParams) apply(q *histQuery) {
	q.rrtypes = p.rrtypes
	from, to := &q.lastAfter, &q.firstBefore
	if p.strict {
		from, to = &q.firstAfter, &q.lastBefore
	}
	if !p.from.IsZero() {
		*from = max(p.from.Unix(), 1)
	}
	if !p.to.IsZero() {
		*to = max(p.to.Unix(), 1)
	}
	q.after = p.cursor
	q.limit = p.limit + 1 // one more tells whether there is a next page
}

// nativeList runs q and streams its page with the trailer.
func (a *httpAPI) nativeList(w http.ResponseWriter, r *http.Request, q histQuery, p listParams, conv func(histRow) any) {
	var rows []histRow
	err := a.db.run(r.Context(), q, func(h histRow) bool { rows = append(rows, h); return true })
	if err != nil {
		fail(w, err)
		return
	}
	a.streamPage(w, rows, q.table, p, conv)
}

func (a *httpAPI) streamPage(w http.ResponseWriter, rows []histRow, table histTable, p listParams, conv func(histRow) any) {
	limit := p.limit
	out := newNDJSON(w)
	t := nativeTrailer{Done: true}
	for i, h := range rows {
		if i == limit {
			t.Cursor = cursor{Query: p.id, Key: rows[i-1].key(table), From: unixOrZero(p.from), To: unixOrZero(p.to)}.encode()
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
func (a *httpAPI) nativeByName(table histTable, toJSON func(histRow) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if err := checkParams(v, nativeListParams); err != nil {
			fail(w, err)
			return
		}
		n, err := parseName("name", r.PathValue("name"), true)
		if err != nil {
			fail(w, err)
			return
		}
		p, err := a.parseList(v, table, n.String())
		if err != nil {
			fail(w, err)
			return
		}
		q := histQuery{table: table, name: n}
		p.apply(&q)
		a.nativeList(w, r, q, p, toJSON)
	}
}

func nativeHistoryJSON(h histRow) any { return toNative(h) }

func nativeNegativeJSON(h histRow) any {
	return nativeNegative{QName: h.rrname, QType: h.rrtype, RCode: h.rdata,
		TimeFirst: nativeTime(h.first), TimeLast: nativeTime(h.last), Count: h.count}
}

func (a *httpAPI) nativeIP(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, nativeListParams, map[string]bool{"aliases": true}); err != nil {
		fail(w, err)
		return
	}
	ip, err := parseIP("ip", r.PathValue("ip"))
	if err != nil {
		fail(w, err)
		return
	}
	withAliases, err := parseBool("aliases", v.Get("aliases"), true)
	if err != nil {
		fail(w, err)
		return
	}
	what := ip.lo.String() + "-" + ip.hi.String()
	p, err := a.parseList(v, tableByIP, what)
	if err != nil {
		fail(w, err)
		return
	}
	q := histQuery{table: tableByIP, ip: ip}
	p.apply(&q)
	var rows []histRow
	if err := a.db.run(r.Context(), q, func(h histRow) bool { rows = append(rows, h); return true }); err != nil {
		fail(w, err)
		return
	}
	var aliases map[string][]nativeAlias
	if withAliases && len(rows) > 0 {
		if aliases, err = a.aliasesOf(r, rows[:min(len(rows), p.limit)], q); err != nil {
			fail(w, err)
			return
		}
	}
	a.streamPage(w, rows, tableByIP, p, func(h histRow) any {
		rec := toNative(h)
		if withAliases {
			al := aliases[h.rrname]
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
func (a *httpAPI) aliasesOf(r *http.Request, rows []histRow, base histQuery) (map[string][]nativeAlias, error) {
	out := map[string][]nativeAlias{}
	type node struct {
		root  string
		chain []string // from the alias down to root, root excluded
	}
	// frontier maps a name to the roots (rrnames of rows) it leads to and the path.
	frontier := map[string][]node{}
	for _, h := range rows {
		if _, ok := frontier[h.rrname]; !ok {
			frontier[h.rrname] = []node{{root: h.rrname}}
		}
	}
	seen := map[string]bool{}
	for depth := 0; depth < aliasMaxDepth && len(frontier) > 0; depth++ {
		names := make([]string, 0, len(frontier))
		for n := range frontier {
			names = append(names, n)
		}
		sort.Strings(names)
		q := histQuery{table: tableByRdata, names: names, rrtypes: []string{"CNAME"},
			limit: nativeMaxLimit}
		base.fence(&q)
		next := map[string][]node{}
		err := a.db.run(r.Context(), q, func(h histRow) bool {
			for _, nd := range frontier[h.target] {
				key := nd.root + "\x00" + h.rrname
				if seen[key] || h.rrname == nd.root {
					continue
				}
				seen[key] = true
				chain := append([]string{h.rrname}, nd.chain...)
				full := append(append([]string(nil), chain...), nd.root)
				out[nd.root] = append(out[nd.root], nativeAlias{RRName: h.rrname, Chain: full,
					TimeFirst: nativeTime(h.first), TimeLast: nativeTime(h.last), Count: h.count})
				next[h.rrname] = append(next[h.rrname], node{root: nd.root, chain: chain})
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

type asofRow struct {
	t         uint32
	ms        uint16
	qtype     string
	rcode     string
	names     []string
	types     []string
	ttls      []uint32
	data      []string
	authTypes []string
	authTTLs  []uint32
}

func (r asofRow) ttl() uint32 {
	var min uint32
	first := true
	ttls := r.ttls
	if len(ttls) == 0 {
		// A negative answer lives as long as its SOA says (RFC 2308: the SOA's TTL).
		for i, t := range r.authTypes {
			if t == "SOA" {
				ttls = r.authTTLs[i : i+1]
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

func (a *httpAPI) nativeAsOf(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"at": true, "rrtype": true}); err != nil {
		fail(w, err)
		return
	}
	n, err := parseName("name", r.PathValue("name"), false)
	if err != nil {
		fail(w, err)
		return
	}
	at := a.now().UTC()
	if s := v.Get("at"); s != "" {
		if at, err = parseTime("at", s, at, true); err != nil {
			fail(w, err)
			return
		}
	}
	types, err := parseRRTypes("rrtype", v["rrtype"])
	if err != nil {
		fail(w, err)
		return
	}
	answers, err := a.asof(r, n.name, at, types, 0)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(asofResult{Name: n.name, At: at.Format(time.RFC3339), Answers: answers})
}

func (a *httpAPI) asofRows(r *http.Request, name string, at time.Time, types []string, from int64) ([]asofRow, error) {
	conn, s, err := a.db.get(r.Context())
	if err != nil {
		return nil, err
	}
	args := []any{reverseString(name), at.Unix(), from}
	if len(types) > 0 {
		args = append(args, groupSet(types))
	}
	args = append(args, asofRows)
	ctx, cancel := a.db.queryContext(r.Context())
	defer cancel()
	rows, err := conn.Query(ctx, asofQuery(s, types), args...)
	if err != nil {
		return nil, classifyQueryError(err)
	}
	defer rows.Close()
	var out []asofRow
	for rows.Next() {
		var x asofRow
		if err := rows.Scan(&x.t, &x.ms, &x.qtype, &x.rcode, &x.names, &x.types, &x.ttls, &x.data, &x.authTypes, &x.authTTLs); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, classifyQueryError(rows.Err())
}

// asof picks, per query type, the last answer at or before at whose TTL covers at, or
// else the last answer before at (covers false), and completes its CNAME chain.
func (a *httpAPI) asof(r *http.Request, name string, at time.Time, types []string, depth int) ([]asofAnswer, error) {
	rows, err := a.asofRows(r, name, at, types, max(at.Add(-asofWindow).Unix(), 0))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if rows, err = a.asofRows(r, name, at, types, 0); err != nil {
			return nil, err
		}
	}
	best := map[string]asofRow{}
	covers := map[string]bool{}
	for _, x := range rows { // newest first
		c := int64(x.t)+int64(x.ttl()) >= at.Unix()
		if _, ok := best[x.qtype]; !ok || c && !covers[x.qtype] {
			best[x.qtype], covers[x.qtype] = x, c
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
		ans := asofAnswer{QType: t, RCode: x.rcode, TTL: x.ttl(), Covers: covers[t],
			AnsweredAt: time.UnixMilli(int64(x.t)*1000 + int64(x.ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			ValidUntil: time.Unix(int64(x.t)+int64(x.ttl()), 0).UTC().Format(time.RFC3339),
			Records:    []asofRecord{}, Final: []asofRecord{}}
		for i := range x.names {
			ans.Records = append(ans.Records, asofRecord{RRName: x.names[i], RRType: x.types[i], TTL: x.ttls[i], RData: x.data[i]})
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
		if len(ans.Final) == 0 && len(ans.Chain) > 1 && x.rcode == "NOERROR" && depth < pivotMaxDepth {
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

func (a *httpAPI) nativePivot(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"from": true, "to": true, "window": true, "limit": true, "aliases": true}); err != nil {
		fail(w, err)
		return
	}
	n, err := parseName("name", r.PathValue("name"), false)
	if err != nil {
		fail(w, err)
		return
	}
	withAliases, err := parseBool("aliases", v.Get("aliases"), true)
	if err != nil {
		fail(w, err)
		return
	}
	p, err := a.parseList(url.Values{"from": v["from"], "to": v["to"], "window": v["window"]}, tableByName, "")
	if err != nil {
		fail(w, err)
		return
	}
	limit, err := parseLimit("limit", v.Get("limit"), 100, 1, nativeMaxLimit)
	if err != nil {
		fail(w, err)
		return
	}
	var window histQuery
	p.apply(&window)
	res := pivotResult{Name: n.name, Nodes: []pivotNode{}, Edges: []pivotEdge{}}
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
	addEdge := func(from, to string, h histRow) {
		k := from + "\x00" + to + "\x00" + h.rrtype
		edges[k] = pivotEdge{From: from, To: to, RRType: h.rrtype, TimeFirst: nativeTime(h.first), TimeLast: nativeTime(h.last), Count: h.count}
	}
	addNode("name", n.name)
	var addrs []histRow
	frontier := []string{n.name}
	seen := map[string]bool{n.name: true}
	for depth := 0; depth < pivotMaxDepth && len(frontier) > 0; depth++ {
		q := histQuery{table: tableByName, names: frontier, rrtypes: []string{"A", "AAAA", "CNAME"},
			limit: nativeMaxLimit + 1}
		window.fence(&q)
		var next []string
		err := a.db.run(r.Context(), q, func(h histRow) bool {
			from := addNode("name", h.rrname)
			switch h.rrtype {
			case "CNAME":
				addEdge(from, addNode("name", h.rdata), h)
				if !seen[h.rdata] {
					seen[h.rdata] = true
					next = append(next, h.rdata)
				}
			default:
				addEdge(from, addNode("ip", h.rdata), h)
				addrs = append(addrs, h)
			}
			return true
		})
		if err != nil {
			fail(w, err)
			return
		}
		sort.Strings(next)
		frontier = next
	}
	if len(addrs) > pivotMaxAddrs {
		addrs, res.Truncated = addrs[:pivotMaxAddrs], true
	}
	var owners []histRow
	ownerSeen := map[string]bool{}
	// The other names of all the addresses in one query, at most limit per address.
	var ips []netip.Addr
	ipSeen := map[netip.Addr]bool{}
	for _, h := range addrs {
		ip, err := parseIP("ip", h.rdata)
		if err != nil || ipSeen[ip.lo] {
			continue
		}
		ipSeen[ip.lo] = true
		ips = append(ips, ip.lo)
	}
	if len(ips) > 0 {
		q := histQuery{table: tableByIP, ips: ips, limitBy: limit + 1, limit: len(ips) * (limit + 1)}
		window.fence(&q)
		got := map[string]int{}
		err := a.db.run(r.Context(), q, func(o histRow) bool {
			if got[o.ipText]++; got[o.ipText] > limit {
				res.Truncated = true
				return true
			}
			addEdge(addNode("name", o.rrname), addNode("ip", o.rdata), o)
			if !ownerSeen[o.rrname] {
				ownerSeen[o.rrname] = true
				owners = append(owners, o)
			}
			return true
		})
		if err != nil {
			fail(w, err)
			return
		}
	}
	if withAliases && len(owners) > 0 {
		// The query names whose CNAME chains ended at those names resolved there too.
		aliases, err := a.aliasesOf(r, owners, window)
		if err != nil {
			fail(w, err)
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
	name  nameSpec
	ip    ipSpec
	isIP  bool
	err   error
}

type bulkLine struct {
	Input string `json:"input"`
	Index int    `json:"index"`
	nativeRecord
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
		if len(in) == bulkMaxInputs {
			return nil, badParam("body", "more than %d inputs", bulkMaxInputs)
		}
		text := line
		if strings.HasPrefix(line, "{") {
			var o struct{ Input, Name, IP string }
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				return nil, badParam("body", "line %d: not a JSON object: %v", len(in)+1, err)
			}
			text = o.Input + o.Name + o.IP
		}
		b := bulkInput{index: len(in), text: text}
		if looksLikeIP(text) {
			b.isIP = true
			b.ip, b.err = parseIP("input", text)
		} else {
			b.name, b.err = parseName("input", text, true)
		}
		in = append(in, b)
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badParam("body", "larger than %d bytes", apiMaxBody)
		}
		return nil, badParam("body", "%v", err)
	}
	if len(in) == 0 {
		return nil, badParam("body", "no inputs: send one name, address or prefix per line")
	}
	return in, nil
}

func (a *httpAPI) nativeBulk(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"rrtype": true, "from": true, "to": true, "window": true, "limit": true}); err != nil {
		fail(w, err)
		return
	}
	p, err := a.parseList(url.Values{"rrtype": v["rrtype"], "from": v["from"], "to": v["to"], "window": v["window"]}, tableByName, "")
	if err != nil {
		fail(w, err)
		return
	}
	if p.limit, err = parseLimit("limit", v.Get("limit"), bulkDefaultLimit, 1, nativeMaxLimit); err != nil {
		fail(w, err)
		return
	}
	inputs, err := readBulk(http.MaxBytesReader(w, r.Body, apiMaxBody))
	if err != nil {
		fail(w, err)
		return
	}
	// Inputs are answered in windows: the exact names of a window in one query (at most
	// limit+1 rows per name), then each input of the window in order, the others with a
	// query each. Memory holds one window's results: at most bulkBuffered rows.
	window := max(1, min(bulkWindow, bulkBuffered/p.limit))
	out := newNDJSON(w)
	failed := func(err error) {
		status, _, msg := errorStatus(err)
		if out.lines == 0 && status >= 500 {
			fail(w, err)
			return
		}
		out.write(apiError{Error: msg})
		out.flush()
	}
	total := 0
	for start := 0; start < len(inputs); start += window {
		end := min(start+window, len(inputs))
		results := make([][]histRow, end-start)
		limited := make([]bool, end-start)
		byName := map[string][]int{}
		var names []string
		for i := start; i < end; i++ {
			if in := inputs[i]; in.err == nil && !in.isIP && in.name.kind == nameExact {
				if _, ok := byName[in.name.name]; !ok {
					names = append(names, in.name.name)
				}
				byName[in.name.name] = append(byName[in.name.name], i-start)
			}
		}
		if len(names) > 0 {
			q := histQuery{table: tableByName, names: names}
			p.apply(&q)
			q.limitBy, q.limit = p.limit+1, len(names)*(p.limit+1)
			counts := map[string]int{}
			err := a.db.run(r.Context(), q, func(h histRow) bool {
				counts[h.rrname]++
				for _, j := range byName[h.rrname] {
					if counts[h.rrname] > p.limit {
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
				_, done.Parameter, done.Error = errorStatus(in.err)
				done.Done = false
			case in.isIP || in.name.kind != nameExact:
				q := histQuery{table: tableByName, name: in.name}
				if in.isIP {
					q = histQuery{table: tableByIP, ip: in.ip}
				}
				p.apply(&q)
				err := a.db.run(r.Context(), q, func(h histRow) bool {
					if len(results[j]) == p.limit {
						limited[j] = true
						return false
					}
					results[j] = append(results[j], h)
					return true
				})
				if err != nil {
					if status, _, _ := errorStatus(err); status >= 500 {
						failed(err)
						return
					}
					_, done.Parameter, done.Error = errorStatus(err)
					done.Done = false
				}
			}
			for _, h := range results[j] {
				if out.write(bulkLine{Input: in.text, Index: i, nativeRecord: toNative(h)}) != nil {
					return
				}
			}
			done.Count, done.Limited = len(results[j]), limited[j]
			results[j] = nil
			total++
			out.write(done)
		}
	}
	out.write(nativeTrailer{Done: true, Count: total})
	out.flush()
}
