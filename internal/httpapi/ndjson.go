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
}

func newNDJSON(w http.ResponseWriter) *ndjson {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(writeGrace))
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &ndjson{w: w, rc: rc, bw: bw, enc: enc}
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
	s.rc.SetWriteDeadline(time.Now().Add(writeGrace))
	return s.rc.Flush()
}
