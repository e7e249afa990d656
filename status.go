package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/spool"

	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// writerStatus is the JSON status: what was captured and where it went, and how
// ClickHouse is doing. Counters are for the whole process, like the metrics.
type writerStatus struct {
	Sensor     string           `json:"sensor"`
	Database   string           `json:"database"`
	ClickHouse clickhouseStatus `json:"clickhouse"`
	Queue      queueStatus      `json:"queue"`
	Spool      *spool.Stats     `json:"spool,omitempty"`
	Records    recordCounts     `json:"records"`
}

type clickhouseStatus struct {
	Healthy   bool       `json:"healthy"`
	LastError string     `json:"last_error,omitempty"`
	LastWrite *time.Time `json:"last_write,omitempty"`
}

type queueStatus struct {
	Length   int   `json:"length"`
	Capacity int   `json:"capacity"`
	Bytes    int64 `json:"bytes"`
}

// recordCounts: captured = written + dropped + queued + spooled-pending, where written
// counts replayed records too and the spool may hold records of an earlier run.
type recordCounts struct {
	Captured uint64            `json:"captured"`
	Written  uint64            `json:"written"`
	Spooled  uint64            `json:"spooled"`
	Replayed uint64            `json:"replayed"`
	Dropped  map[string]uint64 `json:"dropped"`
	// Unsure counts written records a retry left in doubt (see chsink.Options.Unsure).
	Unsure map[string]uint64 `json:"unsure"`
}

func (w *writer) status() writerStatus {
	st := writerStatus{
		Sensor:   w.cfg.sensor,
		Database: w.cfg.database,
		ClickHouse: clickhouseStatus{
			Healthy: w.healthy.Load(),
		},
		Queue: queueStatus{Length: w.queue.Len(), Capacity: w.queue.Cap(), Bytes: w.queuedBytes.Load()},
		Records: recordCounts{
			Captured: counterValue(capturedCount),
			Written:  counterValue(writtenCount),
			Spooled:  counterValue(spooledCount),
			Replayed: counterValue(replayedCount),
			Dropped:  map[string]uint64{},
			Unsure:   map[string]uint64{},
		},
	}
	if e, ok := w.lastError.Load().(string); ok {
		st.ClickHouse.LastError = e // errors name hosts, never the DSN with its password
	}
	if ns := w.lastWrite.Load(); ns > 0 {
		t := time.Unix(0, ns).UTC()
		st.ClickHouse.LastWrite = &t
	}
	for _, r := range dropReasons {
		st.Records.Dropped[r] = counterValue(droppedCount.WithLabelValues(r))
	}
	for _, k := range []string{chsink.UnsureHistory, chsink.UnsureTwice} {
		st.Records.Unsure[k] = counterValue(unsureCount.WithLabelValues(k))
	}
	if w.spool != nil {
		s := w.spool.Stats()
		st.Spool = &s
	}
	return st
}

func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}

// ServeHTTP serves the status as JSON.
func (w *writer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(rw).Encode(w.status())
}
