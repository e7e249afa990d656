package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"time"
)

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

func (a *Server) nativePivot(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"from": true, "to": true, "window": true, "limit": true, "aliases": true}); err != nil {
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
	var window history.Query
	p.apply(&window)
	res := pivotResult{Name: n.Name, Nodes: []pivotNode{}, Edges: []pivotEdge{}}
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
	addEdge := func(from, to string, h history.Row) {
		k := from + "\x00" + to + "\x00" + h.RRType
		edges[k] = pivotEdge{From: from, To: to, RRType: h.RRType, TimeFirst: nativeTime(h.First), TimeLast: nativeTime(h.Last), Count: h.Count}
	}
	addNode("name", n.Name)
	var addrs []history.Row
	frontier := []string{n.Name}
	seen := map[string]bool{n.Name: true}
	for depth := 0; depth < pivotMaxDepth && len(frontier) > 0; depth++ {
		q := history.Query{Table: history.TableByName, Names: frontier, RRTypes: []string{"A", "AAAA", "CNAME"},
			Limit: nativeMaxLimit + 1}
		window.Fence(&q)
		var next []string
		err := a.db.Run(r.Context(), q, func(h history.Row) bool {
			from := addNode("name", h.RRName)
			switch h.RRType {
			case "CNAME":
				addEdge(from, addNode("name", h.RData), h)
				if !seen[h.RData] {
					seen[h.RData] = true
					next = append(next, h.RData)
				}
			default:
				addEdge(from, addNode("ip", h.RData), h)
				addrs = append(addrs, h)
			}
			return true
		})
		if err != nil {
			a.fail(w, err)
			return
		}
		sort.Strings(next)
		frontier = next
	}
	if len(addrs) > pivotMaxAddrs {
		addrs, res.Truncated = addrs[:pivotMaxAddrs], true
	}
	var owners []history.Row
	ownerSeen := map[string]bool{}
	// The other names of all the addresses in one query, at most limit per address.
	var ips []netip.Addr
	ipSeen := map[netip.Addr]bool{}
	for _, h := range addrs {
		ip, err := param.ParseIP("ip", h.RData)
		if err != nil || ipSeen[ip.Lo] {
			continue
		}
		ipSeen[ip.Lo] = true
		ips = append(ips, ip.Lo)
	}
	if len(ips) > 0 {
		q := history.Query{Table: history.TableByIP, IPs: ips, LimitBy: limit + 1, Limit: len(ips) * (limit + 1)}
		window.Fence(&q)
		got := map[string]int{}
		err := a.db.Run(r.Context(), q, func(o history.Row) bool {
			if got[o.IPText]++; got[o.IPText] > limit {
				res.Truncated = true
				return true
			}
			addEdge(addNode("name", o.RRName), addNode("ip", o.RData), o)
			if !ownerSeen[o.RRName] {
				ownerSeen[o.RRName] = true
				owners = append(owners, o)
			}
			return true
		})
		if err != nil {
			a.fail(w, err)
			return
		}
	}
	if withAliases && len(owners) > 0 {
		// The query names whose CNAME chains ended at those names resolved there too.
		aliases, err := a.aliasesOf(r, owners, window)
		if err != nil {
			a.fail(w, err)
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
