package passivedns

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/recordtest"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Tests of the writer with a real sink, against the server TestMain started: everything
// enqueued arrives, the metrics agree, and ClickHouse being down at start delays the rows
// but neither CoreDNS nor DNS.

// chConfig is a sink configuration for database db on testCH, as parse would build it.
func chConfig(t *testing.T, db string) config {
	t.Helper()
	dsn := testCH(t).DSN(db)
	opts, parsedDB, err := parseDSN(dsn)
	if err != nil {
		t.Fatalf("parseDSN(%s): %v", dsn, err)
	}
	if parsedDB != db {
		t.Fatalf("parseDSN(%s): database %q, want %q", dsn, parsedDB, db)
	}
	return config{
		dsn: dsn, options: opts, database: db,
		batch: 1000, flush: 50 * time.Millisecond, queue: 10000,
		sensor: recordtest.Sensor, clients: record.ClientsFull, schema: true,
	}
}

// chMetrics is a snapshot of the writer's metrics.
type chMetrics struct {
	captured, written, errors float64
	dropped                   map[string]float64
	flushes, batchRows        float64 // sample count of flush_duration_seconds, sample sum of batch_size
}

func chSnapshot(t *testing.T) chMetrics {
	t.Helper()
	m := chMetrics{
		captured: testutil.ToFloat64(capturedCount),
		written:  testutil.ToFloat64(writtenCount),
		errors:   testutil.ToFloat64(errorCount.WithLabelValues("insert")),
		dropped:  map[string]float64{},
	}
	for _, r := range []string{dropQueueFull, dropRejected, dropShutdown, dropEncode} {
		m.dropped[r] = testutil.ToFloat64(droppedCount.WithLabelValues(r))
	}
	m.flushes = float64(chHistogram(t, flushDuration).GetSampleCount())
	m.batchRows = chHistogram(t, batchSize).GetSampleSum()
	return m
}

func chHistogram(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

func (m chMetrics) minus(o chMetrics) chMetrics {
	d := chMetrics{captured: m.captured - o.captured, written: m.written - o.written, errors: m.errors - o.errors,
		flushes: m.flushes - o.flushes, batchRows: m.batchRows - o.batchRows, dropped: map[string]float64{}}
	for r, v := range m.dropped {
		if v != o.dropped[r] {
			d.dropped[r] = v - o.dropped[r]
		}
	}
	return d
}

// TestWriterEndToEnd runs the writer with a real sink: everything enqueued before stop is in
// ClickHouse after it, and the metrics agree with what was written.
func TestWriterEndToEnd(t *testing.T) {
	db := testCH(t).TestDB(t)
	cfg := chConfig(t, db)
	cfg.batch, cfg.flush, cfg.queue = 4, 20*time.Millisecond, 100
	w := newWriter(cfg, newSink(cfg))

	before := chSnapshot(t)
	if err := w.start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 1 {
		t.Errorf("clickhouse_up after a successful start = %v, want 1", up)
	}
	cs, names := recordtest.Numbered(t, "e2e", 10)
	for i, c := range cs {
		w.enqueue(c)
		if i == 4 {
			time.Sleep(3 * cfg.flush) // let one flush happen by time, not by size
		}
	}
	if err := w.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d := chSnapshot(t).minus(before)

	if got := testCH(t).Qnames(t, db); !reflect.DeepEqual(got, names) {
		t.Errorf("rows after stop:\n got  %q\n want %q", got, names)
	}
	n := float64(len(cs))
	if d.captured != n || d.written != n || d.batchRows != n {
		t.Errorf("captured %v, written %v, batch_size sum %v; want %v each", d.captured, d.written, d.batchRows, n)
	}
	if d.flushes < 3 || d.flushes > n {
		t.Errorf("%v flushes for %v rows in batches of %d", d.flushes, n, cfg.batch)
	}
	if d.errors != 0 || len(d.dropped) != 0 {
		t.Errorf("errors %v, dropped %v; want none", d.errors, d.dropped)
	}
	if q := testutil.ToFloat64(queueLength); q != 0 {
		t.Errorf("queue_length after stop = %v, want 0", q)
	}
}

// chProxy forwards TCP connections from a port that is closed until open is called.
type chProxy struct {
	addr    string
	backend string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newChProxy(t *testing.T, backend string) *chProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chProxy{addr: ln.Addr().String(), backend: backend}
	ln.Close() // closed: connections are refused until open
	t.Cleanup(p.close)
	return p
}

func (p *chProxy) open(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("reopening %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *chProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
}

// TestWriterClickHouseDownAtStart starts the writer while ClickHouse is unreachable: start
// must not fail (DNS keeps answering) and the rows arrive once the server can be reached.
func TestWriterClickHouseDownAtStart(t *testing.T) {
	db := testCH(t).TestDB(t)
	proxy := newChProxy(t, testCH(t).TCPAddr)
	cfg := chConfig(t, db)
	dsn := strings.Replace(cfg.dsn, testCH(t).TCPAddr, proxy.addr, 1)
	if dsn == cfg.dsn {
		t.Fatalf("cannot point %s at the proxy", cfg.dsn)
	}
	var err error
	if cfg.options, cfg.database, err = parseDSN(dsn); err != nil {
		t.Fatal(err)
	}
	cfg.dsn = dsn
	cfg.options.DialTimeout = time.Second
	cfg.batch, cfg.flush, cfg.queue = 5, 20*time.Millisecond, 100
	w := newWriter(cfg, newSink(cfg))
	t.Cleanup(func() { w.stop() })

	before := chSnapshot(t)
	start := time.Now()
	if err := w.start(); err != nil {
		t.Fatalf("start with ClickHouse down: %v (DNS would not start)", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("start took %v with ClickHouse down", took)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 0 {
		t.Errorf("clickhouse_up = %v while ClickHouse is down, want 0", up)
	}
	cs, names := recordtest.Numbered(t, "down", 5)
	for _, c := range cs {
		w.enqueue(c) // must not block
	}
	testkit.WaitFor(t, "an insert to fail", 20*time.Second, func() bool { return chSnapshot(t).minus(before).errors >= 1 })
	if d := chSnapshot(t).minus(before); d.written != 0 {
		t.Fatalf("written %v while ClickHouse is down", d.written)
	}

	proxy.open(t)
	testkit.WaitFor(t, "the rows to arrive", 20*time.Second, func() bool {
		return testCH(t).Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = 'responses'", db) == 1 &&
			testCH(t).Count(t, "SELECT count() FROM `"+db+"`.responses") == uint64(len(cs))
	})
	if err := w.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := testCH(t).Qnames(t, db); !reflect.DeepEqual(got, names) {
		t.Errorf("rows:\n got  %q\n want %q", got, names)
	}
	d := chSnapshot(t).minus(before)
	if d.captured != 5 || d.written != 5 || len(d.dropped) != 0 {
		t.Errorf("captured %v, written %v, dropped %v; want 5, 5, none", d.captured, d.written, d.dropped)
	}
	if up := testutil.ToFloat64(clickhouseUp); up != 1 {
		t.Errorf("clickhouse_up = %v after the rows were written, want 1", up)
	}
}

// TestWriterRefusesNewerSchema: a database whose schema is newer than this build makes the
// writer's start fail with schema.ErrFatal, so that CoreDNS does not start, whatever the
// schema setting. (internal/chsink tests the sink's side of it.)
func TestWriterRefusesNewerSchema(t *testing.T) {
	for _, auto := range []bool{true, false} {
		t.Run(map[bool]string{true: "auto", false: "off"}[auto], func(t *testing.T) {
			db := testCH(t).TestDB(t)
			cfg := chConfig(t, db)
			s := newSink(cfg)
			t.Cleanup(func() { s.Close() })
			if err := s.Prepare(context.Background()); err != nil {
				t.Fatalf("prepare: %v", err)
			}
			testCH(t).Exec(t, "INSERT INTO `"+db+"`.schema_version (version, applied, by) VALUES (99, now(), 'future')")
			cfg.schema = auto
			w := newWriter(cfg, newSink(cfg))
			if err := w.start(); !errors.Is(err, schema.ErrFatal) {
				w.stop()
				t.Errorf("writer.start: %v; want schema.ErrFatal so that CoreDNS does not start", err)
			}
		})
	}
}
