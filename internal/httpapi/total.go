package httpapi

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/passivedns/passivedns/internal/history"
)

// total fills the trailer's total for total=true. It is free when this page is the
// first and the whole answer; a key range (an exact name, a *.domain, an address range)
// is counted by one more query; a trailing wildcard (www.example.*) scans the table,
// so it is not counted and the trailer says so.
func (a *Server) total(ctx context.Context, q history.Query, p listParams, rows []history.Row) NativeTrailer {
	var t NativeTrailer
	if !p.total {
		return t
	}
	if len(p.cursor) == 0 && len(rows) <= p.limit {
		n := int64(len(rows))
		t.Total = &n
		return t
	}
	if q.Table != history.TableByIP && q.Name.Kind == history.NamePrefix {
		t.TotalNote = "not counted: a trailing wildcard scans the table; page through the results"
		return t
	}
	n, err := a.db.Count(ctx, q)
	switch {
	case err != nil:
		t.TotalNote = "not counted: the count did not finish in time"
	case n > history.MaxRows:
		t.TotalNote = "not counted: more than 1000000 results"
	default:
		t.Total = &n
	}
	return t
}

// searchedRange is the address range an ip parameter searched, as ADDR or FIRST-LAST.
func searchedRange(ip history.IPSpec) string {
	lo, hi := unmap(ip.Lo), unmap(ip.Hi)
	if lo == hi {
		return lo.String()
	}
	return lo.String() + "-" + hi.String()
}

func unmap(a netip.Addr) netip.Addr {
	if a.Is4In6() {
		return a.Unmap()
	}
	return a
}

// writeHint is writeError with a pointer to where the request belongs.
func writeHint(w http.ResponseWriter, status int, name, msg, hint string) {
	writeJSON(w, status, APIError{Error: msg, Parameter: name, Hint: hint})
}
