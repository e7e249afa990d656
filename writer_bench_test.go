package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/spool"

	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"
)

// writerBenchRows is how many answers one op of BenchmarkWriter takes through the writer.
const writerBenchRows = 100000

// benchCaptures are realistic captures (CNAME chains, v4 and v6 addresses, MX, TXT,
// NXDOMAIN with SOA), uncompressed as the recorder captures them, with distinct names.
func benchCaptures(tb testing.TB, n int) []record.Capture {
	tb.Helper()
	shapes := []func(name string) *dns.Msg{
		func(name string) *dns.Msg {
			return benchMsg(tb, name, dns.TypeA, 0, name+" 300 IN CNAME "+name+"cdn.example.net.",
				name+"cdn.example.net. 60 IN CNAME e1.a.edge.example.",
				"e1.a.edge.example. 20 IN A 192.0.2.10", "e1.a.edge.example. 20 IN A 192.0.2.11")
		},
		func(name string) *dns.Msg {
			return benchMsg(tb, name, dns.TypeAAAA, 0, name+" 60 IN AAAA 2001:db8::1", name+" 60 IN AAAA 2001:db8::2")
		},
		func(name string) *dns.Msg {
			return benchMsg(tb, name, dns.TypeMX, 0, name+" 3600 IN MX 10 mx1.example.net.", name+" 3600 IN MX 20 mx2.example.net.")
		},
		func(name string) *dns.Msg {
			return benchMsg(tb, name, dns.TypeTXT, 0, name+` 300 IN TXT "v=spf1 include:_spf.example.net ip4:192.0.2.0/24 -all"`)
		},
		func(name string) *dns.Msg {
			m := benchMsg(tb, name, dns.TypeA, dns.RcodeNameError)
			soa, _ := dns.NewRR("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 300")
			m.Ns = []dns.RR{soa}
			return m
		},
		func(name string) *dns.Msg {
			return benchMsg(tb, name, dns.TypeA, 0, name+" 120 IN A 198.51.100.1", name+" 120 IN A 198.51.100.2")
		},
	}
	at := time.Now().UTC().Add(-time.Hour)
	out := make([]record.Capture, n)
	for i := range out {
		m := shapes[i%len(shapes)](fmt.Sprintf("host%d.zone%d.example.org.", i, i%97))
		m.Compress = false
		wire, err := m.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = record.Capture{Wire: wire, Time: at.Add(time.Duration(i) * time.Microsecond), Elapsed: 900 * time.Microsecond,
			Server: "dns://:53", Transport: "udp", Compress: true}
	}
	return out
}

func benchMsg(tb testing.TB, qname string, qtype uint16, rcode int, answers ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response, m.RecursionAvailable, m.Rcode = true, true, rcode
	for _, a := range answers {
		rr, err := dns.NewRR(a)
		if err != nil {
			tb.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	m.SetEdns0(1232, false)
	return m
}

// countingSink counts the rows the server acknowledged, and says when they reach want.
type countingSink struct {
	*chsink.Sink
	rows    atomic.Int64
	want    atomic.Int64
	reached chan struct{}
}

func (c *countingSink) Write(ctx context.Context, b *record.Batch) error {
	n := b.Len()
	if err := c.Sink.Write(ctx, b); err != nil {
		return err
	}
	if c.rows.Add(int64(n)) >= c.want.Load() {
		select {
		case c.reached <- struct{}{}:
		default:
		}
	}
	return nil
}

func processCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriter is the writer's cost per answer from the queue to the server's
// acknowledgement, with the default batch: decoding, batching, encoding and
// inserting. One op is 100,000 answers already queued; cpu-ns/row is this process's CPU
// time (user + system, GC included) per row less the pushes into the queue (the capture's
// cost, which BenchmarkCapture counts; push-cpu-ns/row), allocs/row its heap allocations.
// The stand-in server runs in a process of its own, as ClickHouse does.
//
//   - 18.16/http: Native blocks over HTTP into the 18.16 server (the default path);
//   - 18.16/clickhouse-go: the same rows through clickhouse-go's native protocol (the
//     path before, and still the path without an HTTP interface);
//   - modern/encode: the modern flavor's blocks over HTTP to a stand-in server that reads
//     and acknowledges them (no 26.x server here; its encoding is proved through chDB).
func BenchmarkWriter(b *testing.B) {
	caps := benchCaptures(b, writerBenchRows)
	queued := make([]record.Capture, len(caps))
	ackURL := ackProcess(b)
	for _, tc := range []struct {
		name  string
		http  string
		fixed *schema.Schema
	}{
		{name: "18.16/http", http: "http://" + testCH(b).HTTPAddr + "/"},
		{name: "18.16/clickhouse-go"},
		{name: "modern/encode", http: ackURL, fixed: &schema.Schema{Flavor: schema.Flavor{Modern: true}, DB: "bench_writer"}},
		{name: "portable/encode", http: ackURL, fixed: &schema.Schema{DB: "bench_writer"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db := "bench_writer"
			dsn := testCH(b).DSN(db)
			chOpts, _, err := parseDSN(dsn)
			if err != nil {
				b.Fatal(err)
			}
			cfg := config{dsn: dsn, options: chOpts, database: db, sensor: "bench", clients: record.ClientsFull, schema: true}
			cfg.httpURL = tc.http
			// The default batch and flush; a queue that holds one op's answers, all queued
			// at once (the default would drop half of them, and the op would never end).
			cfg.batch, cfg.queue, cfg.flush = defaultBatch, writerBenchRows, defaultFlush
			opts := sinkOptions(cfg)
			opts.Fixed = tc.fixed
			s := chsink.New(opts)
			defer s.Close()
			if err := s.Prepare(context.Background()); err != nil {
				b.Fatal(err)
			}
			if s.Native() != (tc.http != "") {
				b.Fatalf("native %v", s.Native())
			}
			cs := &countingSink{Sink: s, reached: make(chan struct{}, 1)}
			w := newWriter(cfg, cs)
			if err := w.start(); err != nil {
				b.Fatal(err)
			}
			defer w.stop()
			// One op: queue the answers and wait for the server to acknowledge the last
			// row. The wait is a channel, not a polling loop: a loop's wakeups would be
			// counted as the writer's CPU.
			op := func() time.Duration {
				want := cs.rows.Load() + writerBenchRows
				cs.want.Store(want)
				pushed := pushAll(w, queued)
				for cs.rows.Load() < want {
					<-cs.reached
				}
				return pushed
			}
			copyWires(queued, caps)
			op() // the writer's buffers grow to a batch's size once, then are reused
			perRow(b, writerBenchRows, func() { copyWires(queued, caps) }, op)
			b.ReportMetric(float64(b.N*writerBenchRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	testCH(b).Query("DROP DATABASE IF EXISTS bench_writer")
}

// BenchmarkWriterSpooling is the writer's cost per answer when ClickHouse cannot keep up
// and batches go to the spool, the way a spool keeps every answer of a burst that the
// server cannot take. The sink's insert hangs, so the first batch stays with the inserter
// (and the first spool file with the replayer) and every other batch is spooled. One op is
// writerBenchRows answers queued at once; cpu-ns/row counts the whole process, as
// BenchmarkWriter does.
func BenchmarkWriterSpooling(b *testing.B) {
	caps := benchCaptures(b, writerBenchRows)
	queued := make([]record.Capture, len(caps))
	s := hangingSink{make(chan struct{})}
	cfg := config{batch: defaultBatch, queue: writerBenchRows, flush: defaultFlush, sensor: "bench",
		spoolDir: b.TempDir(), spoolSize: spool.DefaultSize}
	w := newWriter(cfg, s)
	w.shutdownTimeout = time.Millisecond
	if err := w.start(); err != nil {
		b.Fatal(err)
	}
	defer func() { close(s.hang); w.stop() }()
	spooled := func() int64 { return int64(testutil.ToFloat64(spooledCount)) }
	op := func() time.Duration {
		want := spooled() + writerBenchRows
		pushed := pushAll(w, queued)
		for spooled() < want {
			time.Sleep(time.Millisecond)
		}
		return pushed
	}
	// The first op fills the inserter and the replayer; afterwards every row is spooled.
	copyWires(queued, caps)
	op()
	perRow(b, writerBenchRows, func() {
		copyWires(queued, caps)
		// The files of the op before go, as a replay would take them.
		for f, ok := w.spool.ClaimOldest(); ok; f, ok = w.spool.ClaimOldest() {
			w.spool.Remove(f)
		}
	}, op)
}

// hangingSink's inserts hang until hang is closed; like the real sink, it is done with a
// batch when Write returns, so the writer reuses its batches and their slots.
type hangingSink struct{ hang chan struct{} }

func (s hangingSink) Write(ctx context.Context, _ *record.Batch) error {
	select {
	case <-s.hang:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (hangingSink) Prepare(context.Context) error { return nil }
func (hangingSink) Ping(context.Context) error    { return nil }
func (hangingSink) Close() error                  { return nil }
func (hangingSink) ConsumesBatches()              {}

// BenchmarkReplay is the replay's cost per spooled answer: reading a spool file of a
// default batch back, decoding it and handing it to a sink that discards it.
func BenchmarkReplay(b *testing.B) {
	caps := benchCaptures(b, defaultBatch)
	cfg := config{batch: defaultBatch, queue: defaultBatch, flush: defaultFlush, sensor: "bench",
		spoolDir: b.TempDir(), spoolSize: spool.DefaultSize}
	w := newWriter(cfg, discardSink{})
	dir, err := spool.Open(cfg.spoolDir, cfg.spoolSize, log)
	if err != nil {
		b.Fatal(err)
	}
	defer dir.Close()
	w.spool = dir
	batch := record.NewBatch(record.NewBatchID(), false)
	batch.Undecoded = true
	for i := range caps {
		batch.Keep(&caps[i])
	}
	scratch := new(replayScratch)
	var f spool.File
	perRow(b, defaultBatch, func() {
		if _, err := dir.Write(batch); err != nil {
			b.Fatal(err)
		}
		var ok bool
		if f, ok = dir.ClaimOldest(); !ok {
			b.Fatal("no spool file")
		}
	}, func() time.Duration {
		if err := w.replay(context.Background(), f, scratch); err != nil {
			b.Fatal(err)
		}
		return 0
	})
}

// copyWires copies each capture's answer into a slot, as the recorder does on the query
// path (BenchmarkCapture counts that): here before the clock.
func copyWires(queued, caps []record.Capture) {
	for i := range caps {
		queued[i] = caps[i]
		queued[i].CopyWire(caps[i].Wire)
	}
}

// pushAll queues the captures as the recorder does, and returns the CPU time that took:
// the capture side's, not the writer's. The pushing goroutine has its thread to itself
// meanwhile, so that thread's CPU time is the pushes' alone.
func pushAll(w *writer, queued []record.Capture) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for i := range queued {
		w.enqueue(queued[i])
	}
	return threadCPU() - start
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ackProcess starts the stand-in server that reads the writer's blocks and acknowledges
// them, in a process of its own (this test binary again, see serveAck), so that reading
// them is not counted as the writer's CPU; it returns the server's URL.
func ackProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ackServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("stand-in server: %v", err)
	}
	return "http://" + strings.TrimSpace(addr) + "/"
}

// ackServerEnv makes the test binary serve as ackProcess's stand-in server.
const ackServerEnv = "PASSIVEDNS_BENCH_ACK_SERVER"

// serveAck is the stand-in server's process: it prints its address, reads every request
// to the end and answers 200, and exits when its standard input closes (its parent ended).
func serveAck() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	fmt.Println(ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// perRow runs b's loop, calling prepare untimed and then op, and reports per row (rows
// per op) this process's CPU time (user + system, GC included) less the CPU time op
// returns (spent on its behalf, not by what is measured), its heap allocations and the
// bytes allocated.
func perRow(b *testing.B, rows int, prepare func(), op func() time.Duration) {
	var cpu, excluded time.Duration
	var mallocs, bytes uint64
	var ms runtime.MemStats
	for b.Loop() {
		b.StopTimer()
		prepare()
		b.StartTimer()
		runtime.ReadMemStats(&ms)
		m0, b0, c0 := ms.Mallocs, ms.TotalAlloc, processCPU()
		ex := op()
		cpu += processCPU() - c0 - ex
		excluded += ex
		runtime.ReadMemStats(&ms)
		mallocs, bytes = mallocs+ms.Mallocs-m0, bytes+ms.TotalAlloc-b0
	}
	n := float64(b.N * rows)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/row")
	if excluded > 0 {
		b.ReportMetric(float64(excluded.Nanoseconds())/n, "push-cpu-ns/row")
	}
	b.ReportMetric(float64(mallocs)/n, "allocs/row")
	b.ReportMetric(float64(bytes)/n, "B/row")
}

// BenchmarkBatchMemory is the heap a full batch of the default size holds, per row, after
// a collection: realistic answers decoded into each flavor's blocks, the captures handed
// back as the writer does without a spool (B/row-live, growth room included). The batch's
// memory is most of the writer's; the README's Memory section quotes it.
func BenchmarkBatchMemory(b *testing.B) {
	caps := benchCaptures(b, defaultBatch)
	for _, modern := range []bool{false, true} {
		name := "portable"
		if modern {
			name = "modern"
		}
		b.Run(name, func(b *testing.B) {
			d := new(record.Decoder)
			var live float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				bt := record.NewBatch(1, modern)
				for i := range caps {
					if err := bt.Add(&caps[i], d, "bench"); err != nil {
						b.Fatal(err)
					}
					bt.ReleaseCaptures() // as the writer does without a spool
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				live = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(bt.Len())
				runtime.KeepAlive(bt)
			}
			b.ReportMetric(live, "B/row-live")
		})
	}
}
