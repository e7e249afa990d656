package watch

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	matchedCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "watch_matched_total",
		Help:      "Counter of recorded tuples that matched a watch (per batch, before the first-sighting check).",
	})
	sentCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "watch_sent_total",
		Help:      "Counter of first-sighting events the webhook accepted.",
	})
	failedCount = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "watch_failed_total",
		Help:      "Counter of webhook deliveries that failed and were retried or given up.",
	})
	droppedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "watch_dropped_total",
		Help:      "Counter of watch matches or events given up, by reason (queue_full, batch_full, lookup, expired).",
	}, []string{"reason"})
)
