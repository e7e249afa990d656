package history

import (
	"context"
	"sort"
	"strings"

	"github.com/passivedns/passivedns/internal/record"
)

// Long lists of exact names (bulk, the alias search, DNSDB per-day rdata lookups) are
// sent in chunks of bounded size, so that no statement grows past the server's
// max_query_size (262,144 bytes by default; names bound as quoted, escaped literals).

// listBytes bounds the bound literals of one statement: each name appears in at most
// two lists (TableDaily: qname and rrname), plus its record data.
const listBytes = 64 << 10

// literalLen is the length of s as a quoted literal in the SQL clickhouse-go sends.
func literalLen(s string) int {
	return len(s) + strings.Count(s, `\`) + strings.Count(s, `'`) + 4
}

// RunChunked is Run for a query with a list of names of any length: the names are
// sorted by their reversed form (the sort key of every table they select on) and sent
// in chunks, each a statement of bounded size, so that the results come in the order
// one query would give. Offset and Limit apply to the whole. For TableDaily, RDataOf
// gives the record data wanted for each name; the record data of a chunk are those of
// its names (a name with more data than a chunk holds is filtered here instead).
func (d *DB) RunChunked(ctx context.Context, q Query, emit func(Row) bool) error {
	if len(q.Names) == 0 {
		return d.Run(ctx, q, emit)
	}
	names := append([]string(nil), q.Names...)
	rev := make(map[string]string, len(names))
	for _, n := range names {
		rev[n] = record.Reverse(n)
	}
	sort.Slice(names, func(i, j int) bool { return rev[names[i]] < rev[names[j]] })
	total := q.Limit
	if total <= 0 || total > apiMaxRows+1 {
		total = apiMaxRows + 1
	}
	total += q.Offset
	skip, seen := q.Offset, 0
	for len(names) > 0 && seen < total {
		n, rdatas, filter := chunk(names, q.RDataOf)
		cq := q
		cq.Names, cq.RDataOf = names[:n], nil
		if q.RDataOf != nil {
			cq.RDatas = rdatas
		}
		cq.Offset, cq.Limit = 0, total-seen
		if filter != nil {
			cq.Limit = 0 // the filter drops rows after the LIMIT: read them all
		}
		names = names[n:]
		stop := false
		err := d.Run(ctx, cq, func(r Row) bool {
			if filter != nil && !filter[r.RData] {
				return true
			}
			seen++
			if skip > 0 {
				skip--
			} else if !emit(r) {
				stop = true
				return false
			}
			return seen < total
		})
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// chunk is how many of names fit one statement, with the record data of those names
// (sorted, deduplicated), or, when the first name alone has more data than a
// statement holds, that one name with no data list and the set to filter by.
func chunk(names []string, rdataOf map[string][]string) (int, []string, map[string]bool) {
	size, n := 0, 0
	var set map[string]bool
	if rdataOf != nil {
		set = map[string]bool{}
	}
	for n < len(names) {
		add := 2 * literalLen(names[n])
		for _, r := range rdataOf[names[n]] {
			if !set[r] {
				add += literalLen(r)
			}
		}
		if n > 0 && size+add > listBytes {
			break
		}
		size += add
		for _, r := range rdataOf[names[n]] {
			set[r] = true
		}
		n++
		if size > listBytes { // one name over the bound on its own
			filter := set
			return 1, nil, filter
		}
	}
	if rdataOf == nil {
		return n, nil, nil
	}
	rdatas := make([]string, 0, len(set))
	for r := range set {
		rdatas = append(rdatas, r)
	}
	sort.Strings(rdatas)
	if len(rdatas) == 0 {
		rdatas = []string{""}
	}
	return n, rdatas, nil
}
