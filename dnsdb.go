package passivedns

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSDB API v2 compatibility under /dnsdb/v2/: lookup and summarize of rrset/name,
// rrset/raw, rdata/name and rdata/ip, ping and rate_limit, framed as SAF (one JSON object
// a line: begin, results, exactly one terminator).

const (
	dnsdbDefaultLimit = 10000
	dnsdbResultsMax   = 1000000 // limit=0 means this
	dnsdbOffsetMax    = 1000000
)

// SAF lines.
var (
	safBegin     = []byte(`{"cond":"begin"}` + "\n")
	safSucceeded = []byte(`{"cond":"succeeded"}` + "\n")
	safLimited   = []byte(`{"cond":"limited","msg":"Result limit reached"}` + "\n")
)

type safFailed struct {
	Cond string `json:"cond"`
	Msg  string `json:"msg"`
}

// dnsdbFail answers a request that failed before any result: the status, then one SAF
// failed line saying why. No begin line: DNSDB frames only 200 answers in SAF, and
// clients report the first line of any other answer as the error (dnsdbq does).
func dnsdbFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(status)
	b, _ := json.Marshal(safFailed{Cond: "failed", Msg: msg})
	w.Write(append(b, '\n'))
}

func dnsdbError(w http.ResponseWriter, err error) {
	status, _, msg := errorStatus(err)
	dnsdbFail(w, status, msg)
}

func dnsdbPing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ping":"ok"}` + "\n"))
}

func (a *httpAPI) dnsdbRateLimit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	// No burst_size and burst_window: there is no burst quota, and clients take those
	// two as integers when present (dnsdbq -I aborts on "n/a").
	json.NewEncoder(w).Encode(map[string]any{"rate": map[string]any{
		"reset": "n/a", "expires": "n/a", "limit": "unlimited", "remaining": "n/a",
		"results_max": dnsdbResultsMax, "offset_max": dnsdbOffsetMax,
	}})
}

// dnsdbRequest is a parsed lookup or summarize.
type dnsdbRequest struct {
	summarize bool
	rrset     bool // rrset lookup (rdata is an array) rather than rdata lookup
	q         histQuery
	limit     int
	maxCount  uint64
	humantime bool
	aggr      bool
}

var dnsdbSecTypes = []string{"DS", "RRSIG", "NSEC", "DNSKEY", "NSEC3", "NSEC3PARAM", "DLV", "CDS", "CDNSKEY"}

func dnsdbType(param, s string) ([]string, error) {
	if strings.EqualFold(s, "ANY-DNSSEC") {
		return dnsdbSecTypes, nil
	}
	return parseRRTypes(param, []string{s})
}

// parseDNSDB parses the path after /dnsdb/v2/ (escaped segments) and the parameters.
func parseDNSDB(segs []string, v url.Values, now time.Time) (dnsdbRequest, error) {
	var d dnsdbRequest
	if len(segs) < 4 {
		return d, badParam("path", "expected {lookup|summarize}/{rrset|rdata}/{name|ip|raw}/VALUE")
	}
	switch segs[0] {
	case "lookup":
	case "summarize":
		d.summarize = true
	default:
		return d, badParam("path", "unknown endpoint %q: use lookup or summarize", segs[0])
	}
	for i, s := range segs {
		if s == "" && i < 4 {
			return d, badParam("path", "empty path segment")
		}
	}
	kind, typ, value, rest := segs[1], segs[2], segs[3], segs[4:]
	var err error
	switch kind + "/" + typ {
	case "rrset/name", "rrset/raw":
		d.rrset = true
		if len(rest) > 2 {
			return d, badParam("path", "rrset lookups take OWNER[/RRTYPE[/BAILIWICK]]")
		}
		if typ == "raw" {
			if value, err = rawName(value); err != nil {
				return d, err
			}
		}
		n, err := parseName("owner", value, typ == "name")
		if err != nil {
			return d, err
		}
		d.q = histQuery{table: tableByName, name: n}
		if len(rest) > 0 {
			if d.q.rrtypes, err = dnsdbType("rrtype", rest[0]); err != nil {
				return d, err
			}
		}
		if len(rest) > 1 {
			b, err := parseName("bailiwick", rest[1], false)
			if err != nil {
				return d, err
			}
			// The resolver does not know which zone served a record; only names at
			// or under the bailiwick can have come from it.
			d.q.under = b.name
		}
	case "rdata/name":
		if len(rest) > 1 {
			return d, badParam("path", "rdata/name lookups take NAME[/RRTYPE]")
		}
		n, err := parseName("name", value, true)
		if err != nil {
			return d, err
		}
		d.q = histQuery{table: tableByRdata, name: n}
		if len(rest) > 0 {
			if d.q.rrtypes, err = dnsdbType("rrtype", rest[0]); err != nil {
				return d, err
			}
		}
	case "rdata/ip":
		if len(rest) > 0 {
			return d, badParam("path", "rdata/ip lookups take ADDR, ADDR,PFXLEN or FIRST-LAST")
		}
		ip, err := parseIP("ip", value)
		if err != nil {
			return d, err
		}
		d.q = histQuery{table: tableByIP, ip: ip}
	case "rdata/raw":
		return d, badParam("path", "rdata/raw lookups are not supported here; use rdata/name or rdata/ip")
	default:
		return d, badParam("path", "unknown lookup %q", kind+"/"+typ)
	}
	if d.limit, err = parseLimit("limit", v.Get("limit"), dnsdbDefaultLimit, 0, dnsdbResultsMax); err != nil {
		return d, err
	}
	if d.limit == 0 {
		d.limit = dnsdbResultsMax
	}
	if d.q.offset, err = parseLimit("offset", v.Get("offset"), 0, 0, 1<<40); err != nil {
		return d, err
	}
	if d.q.offset > dnsdbOffsetMax {
		return d, &offsetError{}
	}
	fences := []struct {
		param string
		dst   *int64
	}{
		{"time_first_before", &d.q.firstBefore}, {"time_first_after", &d.q.firstAfter},
		{"time_last_before", &d.q.lastBefore}, {"time_last_after", &d.q.lastAfter},
	}
	for _, f := range fences {
		if s := v.Get(f.param); s != "" {
			t, err := parseTime(f.param, s, now, false)
			if err != nil {
				return d, err
			}
			*f.dst = max(t.Unix(), 1)
		}
	}
	if d.humantime, err = parseBool("humantime", v.Get("humantime"), false); err != nil {
		return d, err
	}
	if d.aggr, err = parseBool("aggr", v.Get("aggr"), true); err != nil {
		return d, err
	}
	if !d.aggr && d.rrset {
		d.q.table = tableDaily
	}
	if s := v.Get("max_count"); s != "" {
		if !d.summarize {
			return d, badParam("max_count", "only for summarize")
		}
		n, err := parseLimit("max_count", s, 0, 1, 1<<62)
		if err != nil {
			return d, err
		}
		d.maxCount = uint64(n)
	}
	d.q.limit = d.limit + 1
	return d, nil
}

type offsetError struct{}

func (*offsetError) Error() string { return "offset: larger than the offset_max of rate_limit" }

// rawName turns an owner name in wire format (hex) into presentation format.
func rawName(h string) (string, error) {
	if len(h) > 2*255 {
		return "", badParam("owner", "longer than 255 bytes")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", badParam("owner", "not hexadecimal")
	}
	n, off, err := dns.UnpackDomainName(b, 0)
	if err != nil || off != len(b) {
		return "", badParam("owner", "not a domain name in wire format")
	}
	return n, nil
}

// dnsdbSegments splits the escaped path after the prefix into unescaped segments.
func dnsdbSegments(r *http.Request) ([]string, error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/dnsdb/v2/")
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, badParam("path", "bad escape in segment %d", i+1)
		}
		segs[i] = u
	}
	for len(segs) > 4 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // a trailing slash
	}
	return segs, nil
}

// dnsdbObj is one result; rdata is a string (rdata lookups) or an array (rrset lookups).
type dnsdbObj struct {
	Count     uint64 `json:"count"`
	TimeFirst any    `json:"time_first"`
	TimeLast  any    `json:"time_last"`
	RRName    string `json:"rrname"`
	RRType    string `json:"rrtype"`
	RData     any    `json:"rdata"`
}

type dnsdbSummary struct {
	Count      uint64 `json:"count"`
	NumResults int    `json:"num_results"`
	TimeFirst  any    `json:"time_first"`
	TimeLast   any    `json:"time_last"`
}

func dnsdbTime(sec uint32, human bool) any {
	if human {
		return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339)
	}
	return sec
}

func (d dnsdbRequest) obj(h histRow) dnsdbObj {
	o := dnsdbObj{Count: h.count, TimeFirst: dnsdbTime(h.first, d.humantime), TimeLast: dnsdbTime(h.last, d.humantime),
		RRName: h.rrname, RRType: h.rrtype, RData: h.rdata}
	if d.rrset {
		o.RData = []string{h.rdata}
	}
	return o
}

func (a *httpAPI) dnsdbLookup(w http.ResponseWriter, r *http.Request) {
	segs, err := dnsdbSegments(r)
	if err != nil {
		dnsdbError(w, err)
		return
	}
	d, err := parseDNSDB(segs, r.URL.Query(), a.now())
	if err != nil {
		if _, ok := err.(*offsetError); ok {
			dnsdbFail(w, http.StatusRequestedRangeNotSatisfiable, err.Error())
			return
		}
		dnsdbError(w, err)
		return
	}
	if !d.aggr && !d.rrset {
		// Per-day results of an rdata lookup: the matching records from history, then
		// their days from the raw log.
		if d.q, err = a.dailyOfRdata(r, d.q); err != nil {
			dnsdbError(w, err)
			return
		}
	}
	var out *ndjson
	start := func() {
		if out == nil {
			out = newNDJSON(w)
			out.bw.Write(safBegin)
		}
	}
	var sum dnsdbSummary
	n := 0
	limited := false
	err = a.db.run(r.Context(), d.q, func(h histRow) bool {
		if n == d.limit {
			limited = true
			return false
		}
		n++
		if d.summarize {
			if sum.NumResults == 0 || h.first < sum.TimeFirst.(uint32) {
				sum.TimeFirst = h.first
			}
			if sum.NumResults == 0 || h.last > sum.TimeLast.(uint32) {
				sum.TimeLast = h.last
			}
			sum.Count += h.count
			sum.NumResults++
			if d.maxCount > 0 && sum.Count >= d.maxCount {
				limited = true
				return false
			}
			return true
		}
		start()
		return out.write(map[string]dnsdbObj{"obj": d.obj(h)}) == nil
	})
	if err != nil {
		if out == nil {
			dnsdbError(w, err)
			return
		}
		_, _, msg := errorStatus(err)
		out.write(safFailed{Cond: "failed", Msg: msg})
		out.flush()
		return
	}
	start()
	if d.summarize && sum.NumResults > 0 {
		if d.humantime {
			sum.TimeFirst = dnsdbTime(sum.TimeFirst.(uint32), true)
			sum.TimeLast = dnsdbTime(sum.TimeLast.(uint32), true)
		}
		out.write(map[string]dnsdbSummary{"obj": sum})
	}
	if limited {
		out.bw.Write(safLimited)
	} else {
		out.bw.Write(safSucceeded)
	}
	out.flush()
}

// dnsdbDailyMax bounds the records an rdata lookup with aggr=false splits into days.
const dnsdbDailyMax = 10000

// dailyOfRdata turns an rdata lookup into the per-day query of the records it finds
// (at most dnsdbDailyMax of them). The days come from the responses to queries for
// those records' owner names.
func (a *httpAPI) dailyOfRdata(r *http.Request, q histQuery) (histQuery, error) {
	find := q
	find.offset, find.limit, find.after = 0, dnsdbDailyMax, nil
	names, rdatas := map[string]bool{}, map[string]bool{}
	err := a.db.run(r.Context(), find, func(h histRow) bool {
		names[h.rrname], rdatas[h.rdata] = true, true
		return true
	})
	if err != nil {
		return q, err
	}
	daily := histQuery{table: tableDaily, rrtypes: q.rrtypes, offset: q.offset, limit: q.limit,
		firstAfter: q.firstAfter, firstBefore: q.firstBefore, lastAfter: q.lastAfter, lastBefore: q.lastBefore}
	if len(names) == 0 {
		daily.names, daily.rdatas = []string{"."}, []string{""} // matches nothing
		return daily, nil
	}
	for n := range names {
		daily.names = append(daily.names, n)
	}
	for d := range rdatas {
		daily.rdatas = append(daily.rdatas, d)
	}
	sort.Strings(daily.names)
	sort.Strings(daily.rdatas)
	return daily, nil
}
