package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"
	"github.com/passivedns/passivedns/internal/record"

	"encoding/json"
	"net/http"
	"sort"
	"time"
)

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
