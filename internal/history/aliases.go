package history

import (
	"context"
	"sort"
)

const (
	// AliasMaxDepth is how many CNAMEs deep aliases are looked for.
	AliasMaxDepth = 4
	// aliasRows bounds the rows one round of the alias search reads.
	aliasRows = 10000
)

// Alias is a name whose CNAME chain ended at a result's rrname.
type Alias struct {
	RRName      string
	Chain       []string // from the alias down to the rrname it ended at
	First, Last uint32
	Count       uint64
}

// Aliases finds, for the rrnames of rows, the names whose CNAME chain led to them (up to
// AliasMaxDepth CNAMEs) within window's time fences: the query names that ended at the
// addresses. One query a level (in chunks: RunChunked), all names of the level at once.
func (d *DB) Aliases(ctx context.Context, rows []Row, window Query) (map[string][]Alias, error) {
	out := map[string][]Alias{}
	type node struct {
		root  string
		chain []string // from the alias down to root, root excluded
	}
	// frontier maps a name to the roots (rrnames of rows) it leads to and the path.
	frontier := map[string][]node{}
	for _, h := range rows {
		if _, ok := frontier[h.RRName]; !ok {
			frontier[h.RRName] = []node{{root: h.RRName}}
		}
	}
	seen := map[string]bool{}
	for depth := 0; depth < AliasMaxDepth && len(frontier) > 0; depth++ {
		names := make([]string, 0, len(frontier))
		for n := range frontier {
			names = append(names, n)
		}
		sort.Strings(names)
		q := Query{Table: TableByRdata, Names: names, RRTypes: []string{"CNAME"}, Limit: aliasRows}
		window.Fence(&q)
		next := map[string][]node{}
		err := d.RunChunked(ctx, q, func(h Row) bool {
			for _, nd := range frontier[h.Target] {
				key := nd.root + "\x00" + h.RRName
				if seen[key] || h.RRName == nd.root {
					continue
				}
				seen[key] = true
				chain := append([]string{h.RRName}, nd.chain...)
				full := append(append([]string(nil), chain...), nd.root)
				out[nd.root] = append(out[nd.root], Alias{RRName: h.RRName, Chain: full, First: h.First, Last: h.Last, Count: h.Count})
				next[h.RRName] = append(next[h.RRName], node{root: nd.root, chain: chain})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		frontier = next
	}
	for k := range out {
		sort.Slice(out[k], func(i, j int) bool {
			x, y := out[k][i], out[k][j]
			if len(x.Chain) != len(y.Chain) {
				return len(x.Chain) < len(y.Chain)
			}
			return x.RRName < y.RRName
		})
	}
	return out, nil
}
