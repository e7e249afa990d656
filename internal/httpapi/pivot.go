package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Pivot: the addresses a name resolved to in a window and the other names that
// resolved to each of them in that window.

type pivotNode struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // name or ip
	Value string `json:"value"`
	Depth *int   `json:"depth,omitempty"` // only when asked for depth>1 or via: the default answer keeps its bytes
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
	if err := checkParams(v, map[string]bool{"from": true, "to": true, "window": true, "limit": true, "aliases": true,
		"depth": true, "via": true, "max_nodes": true}); err != nil {
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
	depth, err := param.ParseLimit("depth", v.Get("depth"), 1, 1, history.PivotMaxHops)
	if err != nil {
		a.fail(w, err)
		return
	}
	via, err := param.ParseVia("via", v["via"])
	if err != nil {
		a.fail(w, err)
		return
	}
	maxNodes, err := param.ParseLimit("max_nodes", v.Get("max_nodes"), history.PivotDefaultNodes, 1, history.PivotMaxNodes)
	if err != nil {
		a.fail(w, err)
		return
	}
	withDepth := depth > 1 || v.Has("via")
	var window history.Query
	p.apply(&window)
	res := pivotResult{Name: n.Name, Nodes: []pivotNode{}, Edges: []pivotEdge{}}
	if !p.from.IsZero() {
		res.From = p.from.Format(time.RFC3339)
	}
	if !p.to.IsZero() {
		res.To = p.to.Format(time.RFC3339)
	}
	g, err := a.db.Pivot(r.Context(), n.Name, window, history.PivotOptions{Limit: limit, Aliases: withAliases,
		Depth: depth, Via: via, MaxNodes: maxNodes})
	if err != nil {
		a.fail(w, err)
		return
	}
	res.Truncated = g.Truncated
	for _, nd := range g.Nodes {
		pn := pivotNode{ID: nd.ID, Kind: nd.Kind, Value: nd.Value}
		if withDepth {
			pn.Depth = &nd.Depth
		}
		res.Nodes = append(res.Nodes, pn)
	}
	for _, e := range g.Edges {
		res.Edges = append(res.Edges, pivotEdge{From: e.From, To: e.To, RRType: e.RRType,
			TimeFirst: nativeTime(e.First), TimeLast: nativeTime(e.Last), Count: e.Count})
	}
	releaseSlot(r) // the queries are done
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(res)
}
