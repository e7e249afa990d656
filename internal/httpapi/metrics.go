package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var protocolNames = [...]string{protoNative: "native", protoDNSDB: "dnsdb", protoCOF: "cof"}

// instrument counts requests by protocol and status and times them.
func instrument(p protocol, h http.Handler) http.Handler {
	name := protocolNames[p]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		ApiRequests.WithLabelValues(name, strconv.Itoa(sw.status)).Inc()
		apiDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status; Unwrap keeps http.ResponseController working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Metrics of the history API.
var (
	ApiRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "api_requests_total",
		Help:      "Counter of history API requests, by protocol (native, dnsdb, cof) and HTTP status.",
	}, []string{"protocol", "code"})

	apiDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: "passivedns",
		Name:      "api_request_duration_seconds",
		Buckets:   plugin.TimeBuckets,
		Help:      "Histogram of the time history API requests took, by protocol.",
	}, []string{"protocol"})
)
