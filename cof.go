package passivedns

import (
	"net/http"
	"strconv"
	"strings"
)

// CIRCL-style /pdns/query/{name-or-ip} answered in the Passive DNS Common Output Format
// (draft-dulaunoy-dnsop-passive-dns-cof): NDJSON, numbers as numbers, rdata as an array,
// sensor_id set. Pages follow the CIRCL headers: dribble-paginate-count and
// dribble-paginate-cursor in, x-dribble-cursor out (absent on the last page).

const (
	cofDefaultPage = 10000
	cofMaxPage     = 100000
)

// cofRecord is one COF object.
type cofRecord struct {
	RRName    string   `json:"rrname"`
	RRType    any      `json:"rrtype"` // mnemonic, or a number for types without one (RFC 3597)
	RData     []string `json:"rdata"`
	TimeFirst uint32   `json:"time_first"`
	TimeLast  uint32   `json:"time_last"`
	Count     uint64   `json:"count"`
	SensorID  string   `json:"sensor_id"`
}

func cofType(t string) any {
	if n, ok := strings.CutPrefix(t, "TYPE"); ok {
		if v, err := strconv.ParseUint(n, 10, 16); err == nil {
			return v
		}
	}
	return t
}

func (a *httpAPI) cofRecord(h histRow) cofRecord {
	return cofRecord{RRName: h.rrname, RRType: cofType(h.rrtype), RData: []string{h.rdata},
		TimeFirst: h.first, TimeLast: h.last, Count: h.count, SensorID: a.cfg.sensor}
}

func (a *httpAPI) cofQuery(w http.ResponseWriter, r *http.Request) {
	value := r.PathValue("value")
	types, err := parseRRTypes("dribble-filter-rrtype", r.Header.Values("dribble-filter-rrtype"))
	if err != nil {
		fail(w, err)
		return
	}
	page, err := parseLimit("dribble-paginate-count", r.Header.Get("dribble-paginate-count"), cofDefaultPage, 1, cofMaxPage)
	if err != nil {
		fail(w, err)
		return
	}
	var q histQuery
	var what string
	if looksLikeIP(value) {
		ip, err := parseIP("value", value)
		if err != nil {
			fail(w, err)
			return
		}
		q, what = histQuery{table: tableByIP, ip: ip}, ip.lo.String()+"-"+ip.hi.String()
	} else {
		n, err := parseName("value", value, true)
		if err != nil {
			fail(w, err)
			return
		}
		q, what = histQuery{table: tableByName, name: n}, n.String()
	}
	q.rrtypes = types
	id := queryID("cof", strconv.Itoa(int(q.table)), what, strings.Join(types, ","))
	if q.after, err = parseCursor("dribble-paginate-cursor", r.Header.Get("dribble-paginate-cursor"), id, keyLen(q.table)); err != nil {
		fail(w, err)
		return
	}
	q.limit = page + 1
	var rows []histRow
	if err := a.db.run(r.Context(), q, func(h histRow) bool { rows = append(rows, h); return true }); err != nil {
		fail(w, err)
		return
	}
	if len(rows) > page {
		rows = rows[:page]
		w.Header().Set("x-dribble-cursor", cursor{Query: id, Key: rows[page-1].key(q.table)}.encode())
	}
	out := newNDJSON(w)
	for _, h := range rows {
		if out.write(a.cofRecord(h)) != nil {
			return
		}
	}
	out.flush()
}
