package httpapi

import (
	"bufio"
	"encoding/json"
	"net/http"
	"time"
)

// ndjson streams JSON lines, flushing every so often so a large answer is never held.
type ndjson struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	bw    *bufio.Writer
	enc   *json.Encoder
	lines int
	end   time.Time // the request's deadline
}

// newNDJSON starts the answer to r. Each chunk must be written within writeGrace and
// before r's deadline: a slow reader cannot hold the request for longer.
func newNDJSON(w http.ResponseWriter, r *http.Request) *ndjson {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	end, _ := r.Context().Deadline()
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	s := &ndjson{w: w, rc: rc, bw: bw, enc: enc, end: end}
	s.deadline()
	return s
}

func (s *ndjson) deadline() {
	t := time.Now().Add(writeGrace)
	if !s.end.IsZero() && s.end.Add(time.Second).Before(t) {
		t = s.end.Add(time.Second) // a second to write the error line that ends it
	}
	s.rc.SetWriteDeadline(t)
}

func (s *ndjson) write(v any) error {
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	s.lines++
	if s.lines%256 == 0 {
		return s.flush()
	}
	return nil
}

func (s *ndjson) flush() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	s.deadline()
	return s.rc.Flush()
}
