package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

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

type SafFailed struct {
	Cond string `json:"cond"`
	Msg  string `json:"msg"`
}

// dnsdbFail answers a request that failed before any result: the status, then one SAF
// failed line saying why. No begin line: DNSDB frames only 200 answers in SAF, and
// clients report the first line of any other answer as the error (dnsdbq does).
func dnsdbFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(status)
	b, _ := json.Marshal(SafFailed{Cond: "failed", Msg: msg})
	w.Write(append(b, '\n'))
}

func (a *Server) dnsdbError(w http.ResponseWriter, err error) {
	status, _, msg := a.errorStatus(err)
	dnsdbFail(w, status, msg)
}

func dnsdbPing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ping":"ok"}` + "\n"))
}

func (a *Server) dnsdbRateLimit(w http.ResponseWriter, r *http.Request) {
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
	Q         history.Query
	limit     int
	maxCount  uint64
	humantime bool
	aggr      bool
}

var dnsdbSecTypes = []string{"DS", "RRSIG", "NSEC", "DNSKEY", "NSEC3", "NSEC3PARAM", "DLV", "CDS", "CDNSKEY"}

func dnsdbType(name, s string) ([]string, error) {
	if strings.EqualFold(s, "ANY-DNSSEC") {
		return dnsdbSecTypes, nil
	}
	return param.ParseRRTypes(name, []string{s})
}

// ParseDNSDB parses the path after /dnsdb/v2/ (escaped segments) and the parameters.
func ParseDNSDB(segs []string, v url.Values, now time.Time) (dnsdbRequest, error) {
	var d dnsdbRequest
	if len(segs) < 4 {
		return d, param.Bad("path", "expected {lookup|summarize}/{rrset|rdata}/{name|ip|raw}/VALUE")
	}
	switch segs[0] {
	case "lookup":
	case "summarize":
		d.summarize = true
	default:
		return d, param.Bad("path", "unknown endpoint %q: use lookup or summarize", segs[0])
	}
	for i, s := range segs {
		if s == "" && i < 4 {
			return d, param.Bad("path", "empty path segment")
		}
	}
	kind, typ, value, rest := segs[1], segs[2], segs[3], segs[4:]
	var err error
	switch kind + "/" + typ {
	case "rrset/name", "rrset/raw":
		d.rrset = true
		if len(rest) > 2 {
			return d, param.Bad("path", "rrset lookups take OWNER[/RRTYPE[/BAILIWICK]]")
		}
		if typ == "raw" {
			if value, err = rawName(value); err != nil {
				return d, err
			}
		}
		n, err := param.ParseName("owner", value, typ == "name")
		if err != nil {
			return d, err
		}
		// One result per RRset as it was served (history_rrset), not per record.
		d.Q = history.Query{Table: history.TableRRset, Name: n}
		if len(rest) > 0 {
			if d.Q.RRTypes, err = dnsdbType("rrtype", rest[0]); err != nil {
				return d, err
			}
		}
		if len(rest) > 1 {
			b, err := param.ParseName("bailiwick", rest[1], false)
			if err != nil {
				return d, err
			}
			// The resolver does not know which zone served a record; only names at
			// or under the bailiwick can have come from it.
			d.Q.Under = b.Name
		}
	case "rdata/name":
		if len(rest) > 1 {
			return d, param.Bad("path", "rdata/name lookups take NAME[/RRTYPE]")
		}
		n, err := param.ParseName("name", value, true)
		if err != nil {
			return d, err
		}
		d.Q = history.Query{Table: history.TableByRdata, Name: n}
		if len(rest) > 0 {
			if d.Q.RRTypes, err = dnsdbType("rrtype", rest[0]); err != nil {
				return d, err
			}
		}
	case "rdata/ip":
		if len(rest) > 0 {
			return d, param.Bad("path", "rdata/ip lookups take ADDR, ADDR,PFXLEN or FIRST-LAST")
		}
		ip, err := param.ParseIP("ip", value)
		if err != nil {
			return d, err
		}
		d.Q = history.Query{Table: history.TableByIP, IP: ip}
	case "rdata/raw":
		return d, param.Bad("path", "rdata/raw lookups are not supported here; use rdata/name or rdata/ip")
	default:
		return d, param.Bad("path", "unknown lookup %q", kind+"/"+typ)
	}
	if d.limit, err = param.ParseLimit("limit", v.Get("limit"), dnsdbDefaultLimit, 0, dnsdbResultsMax); err != nil {
		return d, err
	}
	if d.limit == 0 {
		d.limit = dnsdbResultsMax
	}
	if d.Q.Offset, err = param.ParseLimit("offset", v.Get("offset"), 0, 0, 1<<40); err != nil {
		return d, err
	}
	if d.Q.Offset > dnsdbOffsetMax {
		return d, &OffsetError{}
	}
	fences := []struct {
		name string
		dst  *int64
	}{
		{"time_first_before", &d.Q.FirstBefore}, {"time_first_after", &d.Q.FirstAfter},
		{"time_last_before", &d.Q.LastBefore}, {"time_last_after", &d.Q.LastAfter},
	}
	for _, f := range fences {
		if s := v.Get(f.name); s != "" {
			t, err := param.ParseTime(f.name, s, now, false)
			if err != nil {
				return d, err
			}
			*f.dst = max(t.Unix(), 1)
		}
	}
	if d.humantime, err = param.ParseBool("humantime", v.Get("humantime"), false); err != nil {
		return d, err
	}
	if d.aggr, err = param.ParseBool("aggr", v.Get("aggr"), true); err != nil {
		return d, err
	}
	if !d.aggr && d.rrset {
		d.Q.Table = history.TableRRsetDaily
	}
	if s := v.Get("max_count"); s != "" {
		if !d.summarize {
			return d, param.Bad("max_count", "only for summarize")
		}
		n, err := param.ParseLimit("max_count", s, 0, 1, 1<<62)
		if err != nil {
			return d, err
		}
		d.maxCount = uint64(n)
	}
	d.Q.Limit = d.limit + 1
	return d, nil
}

type OffsetError struct{}

func (*OffsetError) Error() string { return "offset: larger than the offset_max of rate_limit" }

// rawName turns an owner name in wire format (hex) into presentation format.
func rawName(h string) (string, error) {
	if len(h) > 2*255 {
		return "", param.Bad("owner", "longer than 255 bytes")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", param.Bad("owner", "not hexadecimal")
	}
	n, off, err := dns.UnpackDomainName(b, 0)
	if err != nil || off != len(b) {
		return "", param.Bad("owner", "not a domain name in wire format")
	}
	return n, nil
}

// DnsdbSegments splits the escaped path after the prefix into unescaped segments.
func DnsdbSegments(r *http.Request) ([]string, error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/dnsdb/v2/")
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, param.Bad("path", "bad escape in segment %d", i+1)
		}
		segs[i] = u
	}
	for len(segs) > 4 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // a trailing slash
	}
	return segs, nil
}

// DnsdbObj is one result; rdata is a string (rdata lookups) or an array (rrset lookups).
type DnsdbObj struct {
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

func (d dnsdbRequest) obj(h history.Row) DnsdbObj {
	o := DnsdbObj{Count: h.Count, TimeFirst: dnsdbTime(h.First, d.humantime), TimeLast: dnsdbTime(h.Last, d.humantime),
		RRName: h.RRName, RRType: h.RRType, RData: h.RData}
	if d.rrset {
		o.RData = h.RDatas
	}
	return o
}

func (a *Server) dnsdbLookup(w http.ResponseWriter, r *http.Request) {
	segs, err := DnsdbSegments(r)
	if err != nil {
		a.dnsdbError(w, err)
		return
	}
	d, err := ParseDNSDB(segs, r.URL.Query(), a.Now())
	if err != nil {
		if _, ok := err.(*OffsetError); ok {
			dnsdbFail(w, http.StatusRequestedRangeNotSatisfiable, err.Error())
			return
		}
		a.dnsdbError(w, err)
		return
	}
	if !d.aggr && !d.rrset {
		// Per-day results of an rdata lookup: the matching records from history, then
		// their days from the raw log.
		if d.Q, err = a.dailyOfRdata(r, d.Q); err != nil {
			a.dnsdbError(w, err)
			return
		}
	}
	var out *ndjson
	start := func() {
		if out == nil {
			out = newNDJSON(w, r)
			out.bw.Write(safBegin)
		}
	}
	var sum dnsdbSummary
	n := 0
	limited := false
	err = a.db.RunChunked(r.Context(), d.Q, func(h history.Row) bool {
		if n == d.limit {
			limited = true
			return false
		}
		n++
		if d.summarize {
			if sum.NumResults == 0 || h.First < sum.TimeFirst.(uint32) {
				sum.TimeFirst = h.First
			}
			if sum.NumResults == 0 || h.Last > sum.TimeLast.(uint32) {
				sum.TimeLast = h.Last
			}
			sum.Count += h.Count
			sum.NumResults++
			if d.maxCount > 0 && sum.Count >= d.maxCount {
				limited = true
				return false
			}
			return true
		}
		start()
		return out.write(map[string]DnsdbObj{"obj": d.obj(h)}) == nil
	})
	if err != nil {
		if out == nil {
			a.dnsdbError(w, err)
			return
		}
		_, _, msg := a.errorStatus(err)
		out.write(SafFailed{Cond: "failed", Msg: msg})
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
func (a *Server) dailyOfRdata(r *http.Request, q history.Query) (history.Query, error) {
	find := q
	find.Offset, find.Limit, find.After = 0, dnsdbDailyMax, nil
	rdataOf := map[string][]string{}
	err := a.db.Run(r.Context(), find, func(h history.Row) bool {
		rdataOf[h.RRName] = append(rdataOf[h.RRName], h.RData)
		return true
	})
	if err != nil {
		return q, err
	}
	daily := history.Query{Table: history.TableDaily, RRTypes: q.RRTypes, Offset: q.Offset, Limit: q.Limit,
		FirstAfter: q.FirstAfter, FirstBefore: q.FirstBefore, LastAfter: q.LastAfter, LastBefore: q.LastBefore}
	if len(rdataOf) == 0 {
		daily.Names, daily.RDatas = []string{"."}, []string{""} // matches nothing
		return daily, nil
	}
	// Each name with its own record data: RunChunked sends them in statements of
	// bounded size.
	daily.RDataOf = rdataOf
	for n := range rdataOf {
		daily.Names = append(daily.Names, n)
	}
	sort.Strings(daily.Names)
	return daily, nil
}
