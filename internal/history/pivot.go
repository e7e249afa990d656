package history

import (
	"context"
	"net/netip"
	"sort"
)

// Pivot: the addresses a name resolved to in a window and the other names that
// resolved to each of them in that window.

const (
	pivotMaxDepth = 8   // CNAMEs followed from the name
	pivotMaxAddrs = 256 // addresses whose other names are looked up
	pivotRows     = 10000
)

// PivotNode is a name or an address of the graph; ID is "name:..." or "ip:...".
type PivotNode struct {
	ID    string
	Kind  string // name or ip
	Value string
}

// PivotEdge is a record seen between two nodes.
type PivotEdge struct {
	From, To    string
	RRType      string
	First, Last uint32
	Count       uint64
}

// PivotGraph is the result of Pivot, nodes sorted by ID and edges by (From, To, RRType).
type PivotGraph struct {
	Nodes     []PivotNode
	Edges     []PivotEdge
	Truncated bool
}

// Pivot builds the graph of name within window's time fences: its CNAME chain, the
// addresses it reached, at most limit other names of each address, and (withAliases)
// the names whose CNAME chains ended at those names.
func (d *DB) Pivot(ctx context.Context, name string, window Query, limit int, withAliases bool) (PivotGraph, error) {
	var res PivotGraph
	nodes := map[string]PivotNode{}
	edges := map[string]PivotEdge{}
	addNode := func(kind, value string) string {
		id := kind + ":" + value
		nodes[id] = PivotNode{ID: id, Kind: kind, Value: value}
		return id
	}
	addEdge := func(from, to, rrtype string, first, last uint32, count uint64) {
		edges[from+"\x00"+to+"\x00"+rrtype] = PivotEdge{From: from, To: to, RRType: rrtype, First: first, Last: last, Count: count}
	}
	addNode("name", name)
	var addrs []Row
	frontier := []string{name}
	seen := map[string]bool{name: true}
	for depth := 0; depth < pivotMaxDepth && len(frontier) > 0; depth++ {
		q := Query{Table: TableByName, Names: frontier, RRTypes: []string{"A", "AAAA", "CNAME"}, Limit: pivotRows + 1}
		window.Fence(&q)
		var next []string
		err := d.Run(ctx, q, func(h Row) bool {
			from := addNode("name", h.RRName)
			switch h.RRType {
			case "CNAME":
				addEdge(from, addNode("name", h.RData), h.RRType, h.First, h.Last, h.Count)
				if !seen[h.RData] {
					seen[h.RData] = true
					next = append(next, h.RData)
				}
			default:
				addEdge(from, addNode("ip", h.RData), h.RRType, h.First, h.Last, h.Count)
				addrs = append(addrs, h)
			}
			return true
		})
		if err != nil {
			return res, err
		}
		sort.Strings(next)
		frontier = next
	}
	if len(addrs) > pivotMaxAddrs {
		addrs, res.Truncated = addrs[:pivotMaxAddrs], true
	}
	var owners []Row
	ownerSeen := map[string]bool{}
	// The other names of all the addresses in one query, at most limit per address.
	var ips []netip.Addr
	ipSeen := map[netip.Addr]bool{}
	for _, h := range addrs {
		a, err := netip.ParseAddr(h.RData)
		if err != nil {
			continue
		}
		a = netip.AddrFrom16(a.As16()) // as history_by_ip stores it
		if ipSeen[a] {
			continue
		}
		ipSeen[a] = true
		ips = append(ips, a)
	}
	if len(ips) > 0 {
		q := Query{Table: TableByIP, IPs: ips, LimitBy: limit + 1, Limit: len(ips) * (limit + 1)}
		window.Fence(&q)
		got := map[string]int{}
		err := d.Run(ctx, q, func(o Row) bool {
			if got[o.IPText]++; got[o.IPText] > limit {
				res.Truncated = true
				return true
			}
			addEdge(addNode("name", o.RRName), addNode("ip", o.RData), o.RRType, o.First, o.Last, o.Count)
			if !ownerSeen[o.RRName] {
				ownerSeen[o.RRName] = true
				owners = append(owners, o)
			}
			return true
		})
		if err != nil {
			return res, err
		}
	}
	if withAliases && len(owners) > 0 {
		// The query names whose CNAME chains ended at those names resolved there too.
		aliases, err := d.Aliases(ctx, owners, window)
		if err != nil {
			return res, err
		}
		for _, al := range aliases {
			for _, x := range al {
				addEdge(addNode("name", x.Chain[0]), addNode("name", x.Chain[1]), "CNAME", x.First, x.Last, x.Count)
			}
		}
	}
	res.Nodes = make([]PivotNode, 0, len(nodes))
	for _, nd := range nodes {
		res.Nodes = append(res.Nodes, nd)
	}
	sort.Slice(res.Nodes, func(i, j int) bool { return res.Nodes[i].ID < res.Nodes[j].ID })
	res.Edges = make([]PivotEdge, 0, len(edges))
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
	return res, nil
}
