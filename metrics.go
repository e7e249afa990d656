package passivedns

import (
	"github.com/coredns/coredns/plugin"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The hot-path counters carry no labels: a label lookup per response would cost more
// than the rest of the capture. Every row in ClickHouse names its server instead.
var (
	capturedCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "captured_total",
		Help:      "Counter of responses captured for recording.",
	})

	writtenCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "written_total",
		Help:      "Counter of responses acknowledged by ClickHouse.",
	})

	droppedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "dropped_total",
		Help:      "Counter of captured responses that were not recorded, by reason.",
	}, []string{"reason"})

	flushDuration = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "flush_duration_seconds",
		Buckets:   plugin.TimeBuckets,
		Help:      "Histogram of the time each insert into ClickHouse took, retries excluded.",
	})

	batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "batch_size",
		Buckets:   prometheus.ExponentialBuckets(1, 4, 10),
		Help:      "Histogram of the number of responses in each insert.",
	})

	spooledCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "spooled_total",
		Help:      "Counter of responses written to the spool because ClickHouse could not take them.",
	})

	replayedCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "replayed_total",
		Help:      "Counter of responses from the spool acknowledged by ClickHouse (also in written_total).",
	})

	unsureCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "unsure_rows_total",
		Help: "Counter of written responses whose record a retry left in doubt, by kind: history (in the raw log, " +
			"maybe not in the history tables: ClickHouse before 22.8), twice (in the raw log twice: a retry after the deduplication window).",
	}, []string{"kind"})

	queueLength = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "queue_length",
		Help:      "Responses captured and held in memory, not yet written.",
	})

	errorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "errors_total",
		Help:      "Counter of failed ClickHouse operations, by operation.",
	}, []string{"op"})

	clickhouseUp = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "clickhouse_up",
		Help:      "1 when the last ClickHouse operation succeeded, 0 when it failed.",
	})
)

// Reasons a captured response is dropped; each is a value of the dropped_total label.
const (
	dropQueueFull = "queue_full" // the in-memory queue was full when the response was captured
	dropRejected  = "rejected"   // ClickHouse refused the rows as invalid data; retrying cannot help
	dropShutdown  = "shutdown"   // CoreDNS stopped while ClickHouse was unreachable
	dropEncode    = "encode"     // the captured message could not be decoded again
	dropSpoolFull = "spool_full" // the spool reached its size limit: the newest records are left out
	dropSpoolErr  = "spool_error"
	// corrupt: records a spool file was written with that did not come back intact (torn
	// write, flipped or zeroed bytes, a cut tail), counted once, when the file is replayed.
	dropCorrupt = "corrupt"
	// unreadable: the records of a spool file that could not be read at all (gone, not a
	// regular file, refused, not a spool file) and was set aside.
	dropUnreadable = "unreadable"
)

// dropReasons lists every reason, for the status.
var dropReasons = []string{dropQueueFull, dropRejected, dropShutdown, dropEncode, dropSpoolFull, dropSpoolErr, dropCorrupt, dropUnreadable}
