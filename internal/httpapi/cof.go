package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

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

// CofRecord is one COF object.
type CofRecord struct {
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

// cofRecord: sensor_id is the first (by name) of the sensors that saw the record; COF
// has room for one. A record without detail (recorded before schema version 3, its raw
// rows expired by the upgrade) says this server's own sensor, as before.
func (a *Server) cofRecord(h history.Row) CofRecord {
	sensor := a.cfg.Sensor
	if len(h.Sensors) > 0 {
		sensor = h.Sensors[0]
	}
	return CofRecord{RRName: h.RRName, RRType: cofType(h.RRType), RData: []string{h.RData},
		TimeFirst: h.First, TimeLast: h.Last, Count: h.Count, SensorID: sensor}
}

func (a *Server) cofQuery(w http.ResponseWriter, r *http.Request) {
	value := r.PathValue("value")
	types, err := param.ParseRRTypes("dribble-filter-rrtype", r.Header.Values("dribble-filter-rrtype"))
	if err != nil {
		a.fail(w, err)
		return
	}
	page, err := param.ParseLimit("dribble-paginate-count", r.Header.Get("dribble-paginate-count"), cofDefaultPage, 1, cofMaxPage)
	if err != nil {
		a.fail(w, err)
		return
	}
	var q history.Query
	var what string
	if param.LooksLikeIP(value) {
		ip, err := param.ParseIP("value", value)
		if err != nil {
			a.fail(w, err)
			return
		}
		q, what = history.Query{Table: history.TableByIP, IP: ip}, ip.Lo.String()+"-"+ip.Hi.String()
	} else {
		n, err := param.ParseName("value", value, true)
		if err != nil {
			a.fail(w, err)
			return
		}
		q, what = history.Query{Table: history.TableByName, Name: n}, n.String()
	}
	q.RRTypes = types
	id := param.QueryID("cof", strconv.Itoa(int(q.Table)), what, strings.Join(types, ","))
	if q.After, err = param.ParseCursor("dribble-paginate-cursor", r.Header.Get("dribble-paginate-cursor"), id, history.KeyLen(q.Table)); err != nil {
		a.fail(w, err)
		return
	}
	if q.After != nil && !history.ValidKey(q.Table, q.After) {
		a.fail(w, param.Bad("dribble-paginate-cursor", "not a cursor returned by this server"))
		return
	}
	q.Limit = page + 1
	q.Detail = true
	var rows []history.Row
	if err := a.db.Run(r.Context(), q, func(h history.Row) bool { rows = append(rows, h); return true }); err != nil {
		a.fail(w, err)
		return
	}
	releaseSlot(r) // the page is read whole: a slow reader holds no slot
	if len(rows) > page {
		rows = rows[:page]
		w.Header().Set("x-dribble-cursor", param.Cursor{Query: id, Key: rows[page-1].Key(q.Table)}.Encode())
	}
	out := newNDJSON(w, r)
	for _, h := range rows {
		if out.write(a.cofRecord(h)) != nil {
			return
		}
	}
	out.flush()
}
