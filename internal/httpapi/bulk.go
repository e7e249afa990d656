package httpapi

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/param"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Bulk: many names and addresses in one request, one NDJSON answer.

type bulkInput struct {
	index int
	text  string
	name  history.NameSpec
	ip    history.IPSpec
	isIP  bool
	err   error
}

type BulkLine struct {
	Input string `json:"input"`
	Index int    `json:"index"`
	NativeRecord
}

type bulkDone struct {
	Input     string `json:"input"`
	Index     int    `json:"index"`
	Done      bool   `json:"done"`
	Count     int    `json:"count"`
	Limited   bool   `json:"limited"`
	Error     string `json:"error,omitempty"`
	Parameter string `json:"parameter,omitempty"`
}

// bulkMaxLine bounds one line of a bulk body.
const bulkMaxLine = 64 << 10

// readBulk reads the body: one input per line, either plain text or a JSON object
// {"input": "..."} (also "name" or "ip").
func readBulk(body io.Reader) ([]bulkInput, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 4096), bulkMaxLine)
	var in []bulkInput
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if len(in) == BulkMaxInputs {
			return nil, param.Bad("body", "more than %d inputs", BulkMaxInputs)
		}
		text := line
		if strings.HasPrefix(line, "{") {
			var o struct{ Input, Name, IP string }
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				return nil, param.Bad("body", "line %d: not a JSON object: %v", len(in)+1, err)
			}
			text = o.Input + o.Name + o.IP
		}
		b := bulkInput{index: len(in), text: text}
		if param.LooksLikeIP(text) {
			b.isIP = true
			b.ip, b.err = param.ParseIP("input", text)
		} else {
			b.name, b.err = param.ParseName("input", text, true)
		}
		in = append(in, b)
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, param.Bad("body", "larger than %d bytes", apiMaxBody)
		}
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, param.Bad("body", "line %d is longer than %d bytes", lineNo+1, bulkMaxLine)
		}
		return nil, param.Bad("body", "%v", err)
	}
	if len(in) == 0 {
		return nil, param.Bad("body", "no inputs: send one name, address or prefix per line")
	}
	return in, nil
}

func (a *Server) nativeBulk(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := checkParams(v, map[string]bool{"rrtype": true, "from": true, "to": true, "window": true, "limit": true}); err != nil {
		a.fail(w, err)
		return
	}
	p, err := a.parseList(url.Values{"rrtype": v["rrtype"], "from": v["from"], "to": v["to"], "window": v["window"]}, history.TableByName, "")
	if err != nil {
		a.fail(w, err)
		return
	}
	if p.limit, err = param.ParseLimit("limit", v.Get("limit"), bulkDefaultLimit, 1, nativeMaxLimit); err != nil {
		a.fail(w, err)
		return
	}
	inputs, err := readBulk(http.MaxBytesReader(w, r.Body, apiMaxBody))
	if err != nil {
		a.fail(w, err)
		return
	}
	// Inputs are answered in windows: the exact names of a window in one query (at most
	// limit+1 rows per name), then each input of the window in order, the others with a
	// query each. Memory holds one window's results: at most bulkBuffered rows.
	window := max(1, min(bulkWindow, bulkBuffered/p.limit))
	out := newNDJSON(w, r)
	// The request's deadline ends the answer with an error line that says how far it
	// got, and no trailer.
	cut := func(i int) bool {
		if !errors.Is(r.Context().Err(), context.DeadlineExceeded) {
			return false
		}
		out.write(APIError{Error: fmt.Sprintf("request deadline of %v reached: inputs 0 to %d answered, %d not; send those again",
			a.requestTimeout(r), i-1, len(inputs)-i)})
		out.flush()
		return true
	}
	failed := func(err error) {
		status, _, msg := a.errorStatus(err)
		if out.lines == 0 && status >= 500 {
			a.fail(w, err)
			return
		}
		out.write(APIError{Error: msg})
		out.flush()
	}
	total := 0
	for start := 0; start < len(inputs); start += window {
		end := min(start+window, len(inputs))
		results := make([][]history.Row, end-start)
		limited := make([]bool, end-start)
		byName := map[string][]int{}
		var names []string
		for i := start; i < end; i++ {
			if in := inputs[i]; in.err == nil && !in.isIP && in.name.Kind == history.NameExact {
				if _, ok := byName[in.name.Name]; !ok {
					names = append(names, in.name.Name)
				}
				byName[in.name.Name] = append(byName[in.name.Name], i-start)
			}
		}
		if len(names) > 0 {
			q := history.Query{Table: history.TableByName, Names: names}
			p.apply(&q)
			q.LimitBy, q.Limit = p.limit+1, len(names)*(p.limit+1)
			counts := map[string]int{}
			err := a.db.RunChunked(r.Context(), q, func(h history.Row) bool {
				counts[h.RRName]++
				for _, j := range byName[h.RRName] {
					if counts[h.RRName] > p.limit {
						limited[j] = true
						continue
					}
					results[j] = append(results[j], h)
				}
				return true
			})
			if err != nil {
				if !cut(start) {
					failed(err)
				}
				return
			}
		}
		for i := start; i < end; i++ {
			if cut(i) {
				return
			}
			in, j := inputs[i], i-start
			done := bulkDone{Input: in.text, Index: i, Done: true}
			switch {
			case in.err != nil:
				_, done.Parameter, done.Error = a.errorStatus(in.err)
				done.Done = false
			case in.isIP || in.name.Kind != history.NameExact:
				q := history.Query{Table: history.TableByName, Name: in.name}
				if in.isIP {
					q = history.Query{Table: history.TableByIP, IP: in.ip}
				}
				p.apply(&q)
				err := a.db.Run(r.Context(), q, func(h history.Row) bool {
					if len(results[j]) == p.limit {
						limited[j] = true
						return false
					}
					results[j] = append(results[j], h)
					return true
				})
				if err != nil {
					if status, _, _ := a.errorStatus(err); status >= 500 {
						if !cut(i) {
							failed(err)
						}
						return
					}
					_, done.Parameter, done.Error = a.errorStatus(err)
					done.Done = false
				}
			}
			for _, h := range results[j] {
				if out.write(BulkLine{Input: in.text, Index: i, NativeRecord: toNative(h)}) != nil {
					return
				}
			}
			done.Count, done.Limited = len(results[j]), limited[j]
			results[j] = nil
			total++
			out.write(done)
		}
	}
	out.write(NativeTrailer{Done: true, Count: total})
	out.flush()
}
