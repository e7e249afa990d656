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
type HTTPAPI__CofRecord struct {
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

func (a *HTTPAPI__Server) cofRecord(h HISTORY__Row) HTTPAPI__CofRecord {
	return HTTPAPI__CofRecord{RRName: h.RRName, RRType: cofType(h.RRType), RData: []string{h.RData},
		TimeFirst: h.First, TimeLast: h.Last, Count: h.Count, SensorID: a.cfg.sensor}
}

func (a *HTTPAPI__Server) cofQuery(w http.ResponseWriter, r *http.Request) {
	value := r.PathValue("value")
	types, err := PARAM__ParseRRTypes("dribble-filter-rrtype", r.Header.Values("dribble-filter-rrtype"))
	if err != nil {
		fail(w, err)
		return
	}
	page, err := PARAM__ParseLimit("dribble-paginate-count", r.Header.Get("dribble-paginate-count"), cofDefaultPage, 1, cofMaxPage)
	if err != nil {
		fail(w, err)
		return
	}
	var q HISTORY__Query
	var what string
	if PARAM__LooksLikeIP(value) {
		ip, err := PARAM__ParseIP("value", value)
		if err != nil {
			fail(w, err)
			return
		}
		q, what = HISTORY__Query{Table: HISTORY__TableByIP, IP: ip}, ip.Lo.String()+"-"+ip.Hi.String()
	} else {
		n, err := PARAM__ParseName("value", value, true)
		if err != nil {
			fail(w, err)
			return
		}
		q, what = HISTORY__Query{Table: HISTORY__TableByName, Name: n}, n.String()
	}
	q.RRTypes = types
	id := PARAM__QueryID("cof", strconv.Itoa(int(q.Table)), what, strings.Join(types, ","))
	if q.After, err = PARAM__ParseCursor("dribble-paginate-cursor", r.Header.Get("dribble-paginate-cursor"), id, HISTORY__KeyLen(q.Table)); err != nil {
		fail(w, err)
		return
	}
	q.Limit = page + 1
	var rows []HISTORY__Row
	if err := a.DB.Run(r.Context(), q, func(h HISTORY__Row) bool { rows = append(rows, h); return true }); err != nil {
		fail(w, err)
		return
	}
	if len(rows) > page {
		rows = rows[:page]
		w.Header().Set("x-dribble-cursor", PARAM__Cursor{Query: id, Key: rows[page-1].Key(q.Table)}.Encode())
	}
	out := newNDJSON(w)
	for _, h := range rows {
		if out.write(a.cofRecord(h)) != nil {
			return
		}
	}
	out.flush()
}
