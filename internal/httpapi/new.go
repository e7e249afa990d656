package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"net/http"
)

// GET /api/v1/new?from=&to=[&name=|&ip=]: the tuples whose first sighting anywhere (any
// sensor, since history began) falls in [from, to], time_first alone deciding: unlike a
// strict window, a tuple first seen in the window and seen again after it is new there.
// name (wildcards allowed) reads history_by_name by its key, ip history_by_ip; with
// neither the whole of history_by_name is scanned (bounded by the query timeout).

var nativeNewParams = map[string]bool{"rrtype": true, "from": true, "to": true, "limit": true, "cursor": true, "sensor": true, "name": true, "ip": true}

func (a *Server) nativeNew(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, nativeNewParams); err != nil {
		a.fail(w, err)
		return
	}
	if v.Get("from") == "" {
		a.fail(w, param.Bad("from", "required: the start of the window in which tuples were first seen"))
		return
	}
	if v.Get("name") != "" && v.Get("ip") != "" {
		a.fail(w, param.Bad("ip", "give name or ip, not both"))
		return
	}
	q := history.Query{Table: history.TableByName, AllNames: true}
	what := "new:"
	if s := v.Get("name"); s != "" {
		n, err := param.ParseName("name", s, true)
		if err != nil {
			a.fail(w, err)
			return
		}
		q, what = history.Query{Table: history.TableByName, Name: n}, "new:name:"+n.String()
	} else if s := v.Get("ip"); s != "" {
		ip, err := param.ParseIP("ip", s)
		if err != nil {
			a.fail(w, err)
			return
		}
		q, what = history.Query{Table: history.TableByIP, IP: ip}, "new:ip:"+ip.Lo.String()+"-"+ip.Hi.String()
	}
	lv := v
	lv.Del("name")
	lv.Del("ip")
	p, err := a.parseList(lv, q.Table, what)
	if err != nil {
		a.fail(w, err)
		return
	}
	p.apply(&q)
	q.LastAfter, q.LastBefore = 0, 0
	q.FirstAfter = max(p.from.Unix(), 1)
	q.FirstBefore = 0
	if !p.to.IsZero() {
		q.FirstBefore = max(p.to.Unix(), 1)
	}
	a.nativeList(w, r, q, p, nativeHistoryJSON)
}
