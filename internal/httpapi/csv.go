package httpapi

import (
	"bufio"
	"encoding/csv"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// format=csv on the native lists: RFC 4180 with CRLF line ends, a header line first, the
// paging cursor in headers (X-Passivedns-Cursor and Link rel="next") since a CSV body
// has no place for a trailer. The page's own CSV (internal/webui/static/app.js, csvCell)
// follows the same rules byte for byte; test/browser compares the two.

// CSVSafe defuses a cell a spreadsheet would run as a formula (DNS data is written by
// strangers): one starting with = + - @ TAB or CR gets a leading apostrophe.
func CSVSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// NewCSV is the CSV writer of every CSV answer: CRLF line ends, cells made safe by Write.
func NewCSV(w io.Writer) *CSVWriter {
	c := csv.NewWriter(w)
	c.UseCRLF = true
	return &CSVWriter{c}
}

type CSVWriter struct{ c *csv.Writer }

// Write writes one line of cells, each through CSVSafe.
func (w *CSVWriter) Write(cells []string) error {
	safe := make([]string, len(cells))
	for i, c := range cells {
		safe[i] = CSVSafe(c)
	}
	return w.c.Write(safe)
}

func (w *CSVWriter) Flush() error { w.c.Flush(); return w.c.Error() }

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// csvFileName is the download's name: passivedns-MODE-VALUE.csv, with each run of
// characters outside [A-Za-z0-9._-] made one underscore.
func csvFileName(mode, value string) string {
	return "passivedns-" + mode + "-" + unsafeFileChars.ReplaceAllString(value, "_") + ".csv"
}

// csvColumns are the header of a list's CSV: by the shape of its results.
func csvColumns(negative, aliases bool) []string {
	if negative {
		return []string{"qname", "qtype", "rcode", "time_first", "time_last", "count"}
	}
	cols := []string{"rrname", "rrtype", "rdata", "time_first", "time_last", "count"}
	if aliases {
		cols = append(cols, "aliases")
	}
	return cols
}

// csvCells are the cells of one result as conv made it for JSON.
func csvCells(v any) []string {
	switch r := v.(type) {
	case NativeRecord:
		cells := []string{r.RRName, r.RRType, r.RData, r.TimeFirst, r.TimeLast, strconv.FormatUint(r.Count, 10)}
		if r.Aliases != nil {
			names := make([]string, len(*r.Aliases))
			for i, a := range *r.Aliases {
				names[i] = a.RRName
			}
			cells = append(cells, strings.Join(names, " "))
		}
		return cells
	case nativeNegative:
		return []string{r.QName, r.QType, r.RCode, r.TimeFirst, r.TimeLast, strconv.FormatUint(r.Count, 10)}
	}
	return nil
}

// writeCSVPage writes a page of results as CSV: the cursor and count are known before the
// first byte (the page is held), so they go in the headers.
func writeCSVPage(w http.ResponseWriter, r *http.Request, file string, cols []string, results []any, cursor string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+file+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Passivedns-Count", strconv.Itoa(len(results)))
	if cursor != "" {
		h.Set("X-Passivedns-Cursor", cursor)
		q := r.URL.Query()
		q.Set("cursor", cursor)
		h.Set("Link", "<"+r.URL.EscapedPath()+"?"+q.Encode()+`>; rel="next"`)
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	c := NewCSV(bw)
	if c.Write(cols) != nil {
		return
	}
	for _, v := range results {
		if c.Write(csvCells(v)) != nil {
			return
		}
	}
	if c.Flush() == nil {
		bw.Flush()
	}
}
