package passivedns

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/testkit"
)

func TestStatus(t *testing.T) {
	s := &fakeSink{}
	s.down.Store(true)
	w := newSpoolWriter(t, t.TempDir(), s)
	w.cfg.database = "pdns"
	before := w.status().Records
	w.start()
	defer w.stop()
	for range 12 {
		w.enqueue(recordtest.Capture(t, "status.example.org."))
	}
	testkit.WaitFor(t, "12 spooled", 5*time.Second, func() bool { return w.spool.Stats().Records == 12 })

	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var st writerStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, rec.Body)
	}
	if st.ClickHouse.Healthy || !strings.Contains(st.ClickHouse.LastError, "connection refused") {
		t.Errorf("clickhouse %+v, want unhealthy with the error", st.ClickHouse)
	}
	if st.Spool == nil || st.Spool.Records != 12 || st.Spool.Files == 0 || st.Spool.Oldest.IsZero() || time.Since(st.Spool.Oldest) > time.Minute {
		t.Errorf("spool %+v", st.Spool)
	}
	if got := st.Records.Captured - before.Captured; got != 12 {
		t.Errorf("captured grew by %d, want 12", got)
	}
	if got := st.Records.Spooled - before.Spooled; got != 12 {
		t.Errorf("spooled grew by %d, want 12", got)
	}
	if st.Database != "pdns" || st.Queue.Capacity != 1000 {
		t.Errorf("status %+v", st)
	}
}
