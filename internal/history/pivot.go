package history

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/passivedns/passivedns/internal/record"
)

// Pivot: the addresses a name resolved to in a window and the other names that
// resolved to each of them in that window; with more hops, the same again from the
// names found, and (Via) through NS and MX targets as well as CNAMEs.

const (
	pivotMaxChain = 8   // CNAMEs followed from a name within one hop
	pivotMaxAddrs = 256 // addresses whose other names are looked up, per hop
	pivotRows     = 10000
	// PivotMaxHops is the deepest walk a request may ask for.
	PivotMaxHops = 4
	// PivotMaxNodes bounds max_nodes; PivotDefaultNodes is what a request gets unasked.
	PivotMaxNodes     = 5000
	PivotDefaultNodes = 500
)

// maxInList bounds the values of one statement's IN list: longer lists are chunked. A
// variable only so that tests can cut every list into many chunks (SetMaxInList), read
// atomically since the API's handlers run beside the test.
var maxInList atomic.Int64

func init() { maxInList.Store(1000) }

// SetMaxInList sets the bound of IN lists and returns the one before; for tests.
func SetMaxInList(n int) int { return int(maxInList.Swap(int64(max(n, 1)))) }

// Via is the set of record types a pivot walks between names.
type Via uint8

const (
	ViaCNAME Via = 1 << iota // CNAME targets forward, aliases (CNAME chains ending here) back
	ViaNS                    // NS targets, and the names delegated to a name
	ViaMX                    // MX targets, and the names whose mail goes to a name
)

// PivotOptions shape the walk. The zero value of Depth and MaxNodes means 1 and
// PivotDefaultNodes; a zero Via means ViaCNAME.
type PivotOptions struct {
	Limit    int  // other names per address
	Aliases  bool // the names whose CNAME chains ended at the names found
	Depth    int  // hops, 1..PivotMaxHops
	Via      Via
	MaxNodes int
}

// PivotNode is a name or an address of the graph; ID is "name:..." or "ip:...". Depth is
// the hop that first reached it: 0 for the name asked.
type PivotNode struct {
	ID    string
	Kind  string // name or ip
	Value string
	Depth int
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

// graph collects nodes and edges, at most max nodes; an edge to a node left out is
// left out too, and the graph is marked truncated.
type graph struct {
	nodes     map[string]PivotNode
	edges     map[string]PivotEdge
	max       int
	truncated bool
}

func (g *graph) node(kind, value string, depth int) (string, bool) {
	id := kind + ":" + value
	if _, ok := g.nodes[id]; ok {
		return id, true
	}
	if len(g.nodes) >= g.max {
		g.truncated = true
		return id, false
	}
	g.nodes[id] = PivotNode{ID: id, Kind: kind, Value: value, Depth: depth}
	return id, true
}

func (g *graph) edge(from, to, rrtype string, h Row) {
	g.edges[from+"\x00"+to+"\x00"+rrtype] = PivotEdge{From: from, To: to, RRType: rrtype, First: h.First, Last: h.Last, Count: h.Count}
}

// Pivot builds the graph of name within window's time fences. Each hop starts from a
// set of names (the first from name alone): their CNAME chains, the addresses they
// reached, at most o.Limit other names of each address, (o.Aliases) the names whose CNAME
// chains ended at those names, and, with ViaNS or ViaMX, their NS or MX targets and the
// names whose NS or MX records point at them. The next hop starts from the names the
// last one found.
func (d *DB) Pivot(ctx context.Context, name string, window Query, o PivotOptions) (PivotGraph, error) {
	if o.Depth <= 0 {
		o.Depth = 1
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = PivotDefaultNodes
	}
	if o.Via == 0 {
		o.Via = ViaCNAME
	}
	g := &graph{nodes: map[string]PivotNode{}, edges: map[string]PivotEdge{}, max: o.MaxNodes}
	g.node("name", name, 0)
	walked := map[string]bool{}     // names whose records were read
	ipDone := map[netip.Addr]bool{} // addresses whose names were read
	frontier := []string{name}
	for hop := 1; hop <= o.Depth && len(frontier) > 0; hop++ {
		found, err := d.pivotHop(ctx, g, window, o, hop, frontier, walked, ipDone)
		if err != nil {
			return PivotGraph{}, err
		}
		frontier = found
	}
	res := PivotGraph{Truncated: g.truncated}
	res.Nodes = make([]PivotNode, 0, len(g.nodes))
	for _, nd := range g.nodes {
		res.Nodes = append(res.Nodes, nd)
	}
	sort.Slice(res.Nodes, func(i, j int) bool { return res.Nodes[i].ID < res.Nodes[j].ID })
	res.Edges = make([]PivotEdge, 0, len(g.edges))
	for _, e := range g.edges {
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

// pivotHop is one step of Pivot from the names of frontier; it returns the names it
// added to the graph that have not been walked, sorted: the next hop's frontier.
func (d *DB) pivotHop(ctx context.Context, g *graph, window Query, o PivotOptions, hop int, frontier []string, walked map[string]bool, ipDone map[netip.Addr]bool) ([]string, error) {
	var found []string // names added in this hop
	isFound := map[string]bool{}
	nameNode := func(n string) (string, bool) {
		id, ok := g.node("name", n, hop)
		if ok && g.nodes[id].Depth == hop && !isFound[n] {
			isFound[n] = true
			found = append(found, n)
		}
		return id, ok
	}
	types := []string{"A", "AAAA"}
	if o.Via&ViaCNAME != 0 {
		types = append(types, "CNAME")
	}
	if o.Via&ViaMX != 0 {
		types = append(types, "MX")
	}
	if o.Via&ViaNS != 0 {
		types = append(types, "NS")
	}
	// The records of the frontier's names, following CNAME chains within the hop.
	var addrs []Row
	var hopNames []string // names walked in this hop
	cur := frontier
	for _, n := range cur {
		walked[n] = true
	}
	for step := 0; step < pivotMaxChain && len(cur) > 0; step++ {
		hopNames = append(hopNames, cur...)
		var next []string
		rows := 0
		err := d.runChunked(ctx, cur, func(names []string) Query {
			q := Query{Table: TableByName, Names: names, RRTypes: types, Limit: pivotRows + 1}
			window.Fence(&q)
			return q
		}, func(h Row) bool {
			if rows++; rows > pivotRows {
				g.truncated = true
				return false
			}
			from, ok := g.node("name", h.RRName, hop)
			if !ok {
				return true
			}
			switch h.RRType {
			case "CNAME":
				to, ok := nameNode(h.RData)
				if !ok {
					return true
				}
				g.edge(from, to, h.RRType, h)
				if !walked[h.RData] {
					walked[h.RData] = true
					next = append(next, h.RData)
				}
			case "A", "AAAA":
				to, ok := g.node("ip", h.RData, hop)
				if !ok {
					return true
				}
				g.edge(from, to, h.RRType, h)
				addrs = append(addrs, h)
			case "NS", "MX":
				t := recordTarget(h.RRType, h.RData)
				if t == "" {
					return true
				}
				if to, ok := nameNode(t); ok {
					g.edge(from, to, h.RRType, h)
				}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(next)
		cur = next
	}
	// The other names of the addresses reached, at most o.Limit per address.
	var ips []netip.Addr
	for _, h := range addrs {
		a, err := netip.ParseAddr(h.RData)
		if err != nil {
			continue
		}
		a = netip.AddrFrom16(a.As16()) // as history_by_ip stores it
		if ipDone[a] {
			continue
		}
		if len(ips) == pivotMaxAddrs {
			g.truncated = true
			break
		}
		ipDone[a] = true
		ips = append(ips, a)
	}
	var owners []Row
	ownerSeen := map[string]bool{}
	chunkLen := int(maxInList.Load())
	for start := 0; start < len(ips); start += chunkLen {
		chunk := ips[start:min(start+chunkLen, len(ips))]
		q := Query{Table: TableByIP, IPs: chunk, LimitBy: o.Limit + 1, Limit: len(chunk) * (o.Limit + 1)}
		window.Fence(&q)
		got := map[string]int{}
		err := d.Run(ctx, q, func(r Row) bool {
			if got[r.IPText]++; got[r.IPText] > o.Limit {
				g.truncated = true
				return true
			}
			from, ok := nameNode(r.RRName)
			if !ok {
				return true
			}
			to, ok := g.node("ip", r.RData, hop)
			if !ok {
				return true
			}
			g.edge(from, to, r.RRType, r)
			if !ownerSeen[r.RRName] {
				ownerSeen[r.RRName] = true
				owners = append(owners, r)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	// The names whose NS or MX records point at the names walked.
	var back []string
	if o.Via&ViaNS != 0 {
		back = append(back, "NS")
	}
	if o.Via&ViaMX != 0 {
		back = append(back, "MX")
	}
	if len(back) > 0 {
		sort.Strings(hopNames)
		err := d.runChunked(ctx, hopNames, func(names []string) Query {
			q := Query{Table: TableByRdata, Names: names, RRTypes: back, Limit: pivotRows + 1}
			window.Fence(&q)
			return q
		}, func(h Row) bool {
			from, ok := nameNode(h.RRName)
			if !ok {
				return true
			}
			if to, ok := g.node("name", h.Target, hop); ok {
				g.edge(from, to, h.RRType, h)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if o.Via&ViaCNAME != 0 && o.Aliases && len(owners) > 0 {
		// The query names whose CNAME chains ended at those names resolved there too.
		aliases, err := d.Aliases(ctx, owners, window)
		if err != nil {
			return nil, err
		}
		roots := make([]string, 0, len(aliases))
		for root := range aliases {
			roots = append(roots, root)
		}
		sort.Strings(roots)
		for _, root := range roots {
			for _, x := range aliases[root] {
				from, ok := nameNode(x.Chain[0])
				if !ok {
					continue
				}
				if to, ok := nameNode(x.Chain[1]); ok {
					g.edge(from, to, "CNAME", Row{First: x.First, Last: x.Last, Count: x.Count})
				}
			}
		}
	}
	var next []string
	for _, n := range found {
		if !walked[n] {
			next = append(next, n)
		}
	}
	sort.Strings(next)
	return next, nil
}

// runChunked runs the query of each chunk of at most maxInList names in turn, so that
// no statement's IN list grows with the graph; emit returning false stops it.
func (d *DB) runChunked(ctx context.Context, names []string, query func([]string) Query, emit func(Row) bool) error {
	stopped := false
	chunkLen := int(maxInList.Load())
	for start := 0; start < len(names) && !stopped; start += chunkLen {
		err := d.Run(ctx, query(names[start:min(start+chunkLen, len(names))]), func(h Row) bool {
			if !emit(h) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// recordTarget is the name an NS or MX record's data points at, in stored form.
func recordTarget(rrtype, rdata string) string {
	f := strings.Fields(rdata)
	switch {
	case rrtype == "NS" && len(f) == 1:
		return record.CanonicalName(f[0])
	case rrtype == "MX" && len(f) == 2:
		return record.CanonicalName(f[1])
	}
	return ""
}
