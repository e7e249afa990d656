package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Who asked: /api/v1/clients/{name} (the clients answered for a name) and
// /api/v1/client/{address} (the names a client was answered for). Client addresses are
// personal data: with keys configured only clients_api_key keys read them.

// clientsDefaultWindow is the window of a lookup by client without from: it scans the
// raw log, so it is kept to the recent past unless asked otherwise.
const clientsDefaultWindow = 24 * time.Hour

type nativeClient struct {
	Client    string   `json:"client"`
	QName     string   `json:"qname"`
	QTypes    []string `json:"qtypes"`
	TimeFirst string   `json:"time_first"`
	TimeLast  string   `json:"time_last"`
	Count     uint64   `json:"count"`
}

type clientsTrailer struct {
	Done        bool   `json:"done"`
	Count       int    `json:"count"`
	Cursor      string `json:"cursor,omitempty"`
	From        string `json:"from,omitempty"` // the window searched
	To          string `json:"to,omitempty"`
	Clients     string `json:"clients"` // what this server records: prefix or full
	SearchedFor string `json:"searched_for,omitempty"`
}

var clientsParams = map[string]bool{"rrtype": true, "from": true, "to": true, "limit": true, "cursor": true}

// ClientsOff is the error of the client endpoints when addresses are not recorded.
const clientsOffMsg = "client addresses are not recorded (clients off): set clients prefix or full to record who asked"

func (a *Server) clientsMode() string {
	if a.cfg.Clients == "" {
		return "off"
	}
	return a.cfg.Clients
}

func (a *Server) nativeClients(byClient bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.clientsMode() == "off" {
			writeError(w, http.StatusNotFound, "", clientsOffMsg)
			return
		}
		v := r.URL.Query()
		if err := checkParams(v, clientsParams); err != nil {
			a.fail(w, err)
			return
		}
		q := history.ClientsQuery{ByClient: byClient}
		var what, searched string
		if byClient {
			ip, err := param.ParseIP("address", r.PathValue("address"))
			if err != nil {
				a.fail(w, err)
				return
			}
			if a.clientsMode() == "prefix" && ip.Lo == ip.Hi {
				// Stored as its network: an address finds its /24 or /48.
				ip = prefixOf(ip)
			}
			q.Client, what = ip, ip.Lo.String()+"-"+ip.Hi.String()
			w.Header().Set("X-Searched-For", searchedRange(ip))
		} else {
			n, rewritten, err := param.ParseNameAs("name", r.PathValue("name"), true)
			if err != nil {
				a.fail(w, err)
				return
			}
			q.Name, what = n, n.String()
			w.Header().Set("X-Searched-For", n.String())
			if rewritten {
				searched = n.String()
			}
		}
		var err error
		if q.QTypes, err = param.ParseRRTypes("rrtype", v["rrtype"]); err != nil {
			a.fail(w, err)
			return
		}
		now := a.Now()
		var from, to time.Time
		if s := v.Get("from"); s != "" {
			if from, err = param.ParseTime("from", s, now, true); err != nil {
				a.fail(w, err)
				return
			}
		}
		if s := v.Get("to"); s != "" {
			if to, err = param.ParseTime("to", s, now, true); err != nil {
				a.fail(w, err)
				return
			}
		}
		if byClient && from.IsZero() {
			end := now
			if !to.IsZero() {
				end = to
			}
			from = end.Add(-clientsDefaultWindow)
		}
		if !from.IsZero() && !to.IsZero() && to.Before(from) {
			a.fail(w, param.Bad("to", "before from"))
			return
		}
		limit, err := param.ParseLimit("limit", v.Get("limit"), nativeDefaultLimit, 1, nativeMaxLimit)
		if err != nil {
			a.fail(w, err)
			return
		}
		id := param.QueryID("clients", what, strings.Join(q.QTypes, ","), v.Get("from"), v.Get("to"))
		c, err := param.DecodeCursor("cursor", v.Get("cursor"), id, history.ClientsKeyLen)
		if err != nil {
			a.fail(w, err)
			return
		}
		if c.From > 0 {
			from = time.Unix(c.From, 0).UTC()
		}
		if c.To > 0 {
			to = time.Unix(c.To, 0).UTC()
		}
		q.From, q.To, q.After, q.Limit = max(unixOrZero(from), 0), unixOrZero(to), c.Key, limit+1
		if !from.IsZero() && q.From == 0 {
			q.From = 1
		}
		var rows []history.ClientRow
		if err := a.db.Clients(r.Context(), q, func(x history.ClientRow) { rows = append(rows, x) }); err != nil {
			a.fail(w, err)
			return
		}
		releaseSlot(r) // the page is read whole: a slow reader holds no slot
		out := newNDJSON(w, r)
		t := clientsTrailer{Done: true, Clients: a.clientsMode(), SearchedFor: searched}
		if !from.IsZero() {
			t.From = param.FormatTime(from)
		}
		if !to.IsZero() {
			t.To = param.FormatTime(to)
		}
		for i, x := range rows {
			if i == limit {
				t.Cursor = param.Cursor{Query: id, Key: rows[i-1].Key(byClient), From: unixOrZero(from), To: unixOrZero(to)}.Encode()
				break
			}
			if out.write(nativeClient{Client: x.Client, QName: x.QName, QTypes: x.QTypes,
				TimeFirst: nativeTime(x.First), TimeLast: nativeTime(x.Last), Count: x.Count}) != nil {
				return
			}
			t.Count++
		}
		out.write(t)
		out.flush()
	}
}

// prefixOf widens a single address to the network clients prefix stores it as.
func prefixOf(ip history.IPSpec) history.IPSpec {
	a := ip.Lo.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	lo := netip.AddrFrom16(p.Addr().As16())
	return history.IPSpec{Lo: lo, Hi: lo, Text: ip.Text}
}
