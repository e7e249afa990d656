package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/file"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	_ "github.com/passivedns/passivedns"
)

// benchhook is a plugin placed first in the chain that only remembers the rest of the
// chain, so that ingest can call ServeDNS on it directly: the records then come from the
// real plugin (capture, queue, writer, ClickHouse sink) without the cost of sockets.
var chain plugin.Handler

// benchreplay, right after passivedns, answers each query with the reply the file plugin
// gave to it during a warm-up pass, so that the measured part is passivedns's work, not
// the file plugin's lookups in a large zone.
var replayer *replay

type replay struct {
	next    plugin.Handler
	replies map[*dns.Msg]*dns.Msg
}

func (r *replay) Name() string { return "benchreplay" }

func (r *replay) ServeDNS(ctx context.Context, w dns.ResponseWriter, q *dns.Msg) (int, error) {
	if m, ok := r.replies[q]; ok {
		return dns.RcodeSuccess, w.WriteMsg(m)
	}
	rec := &recordWriter{nullWriter: w.(*nullWriter)}
	rc, err := plugin.NextOrFailure(r.Name(), r.next, ctx, rec, q)
	if rec.msg == nil {
		return rc, fmt.Errorf("no reply to %s (rcode %d): %v", q.Question[0].Name, rc, err)
	}
	r.replies[q] = rec.msg
	return rc, w.WriteMsg(rec.msg)
}

type recordWriter struct {
	*nullWriter
	msg *dns.Msg
}

func (w *recordWriter) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }

func init() {
	i := slices.Index(dnsserver.Directives, "dnstap")
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i+1, "passivedns", "benchreplay")
	dnsserver.Directives = slices.Insert(dnsserver.Directives, 0, "benchhook")
	plugin.Register("benchreplay", func(c *caddy.Controller) error {
		c.Next()
		dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
			replayer = &replay{next: next, replies: map[*dns.Msg]*dns.Msg{}}
			return replayer
		})
		return nil
	})
	plugin.Register("benchhook", func(c *caddy.Controller) error {
		c.Next()
		dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
			chain = next
			return next
		})
		return nil
	})
}

// ingest measures how many records per second passivedns's writer gets into ClickHouse:
// CoreDNS runs in this process (the script pins it to one core), with passivedns in front
// of the file plugin serving the generated zone. It pushes -n queries from the query file
// through the chain as fast as it can, then waits until the writer has acknowledged all
// of them. It prints "rows seconds push_seconds cpu_seconds".
func ingest(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	dsn := fs.String("dsn", "", "passivedns DSN, clickhouse://127.0.0.1:PORT/DB")
	httpURL := fs.String("http", "", "passivedns clickhouse_http: the server's HTTP interface (inserts as Native blocks); empty: clickhouse-go")
	zone := fs.String("zone", "zone.db", "zone file of the generated zone")
	origin := fs.String("origin", "bench.test.", "its origin")
	queries := fs.String("queries", "queries.txt", "dnsperf query file")
	n := fs.Int("n", 1000000, "records to write; 0 only creates the schema")
	chunk := fs.Int("chunk", 0, "push at most this many records ahead of the writer (0: all at once)")
	distinct := fs.Int("distinct", 100000, "distinct queries, the first of the query file, replayed in turn")
	batch := fs.Int("batch", 50000, "passivedns batch")
	sensor := fs.String("sensor", "ingest", "passivedns sensor, to count the rows afterwards")
	port := fs.Int("port", 0, "a free loopback port for the (unused) listener")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured part here")
	fs.Parse(args)
	if *dsn == "" || *port == 0 {
		return fmt.Errorf("-dsn and -port are required")
	}
	queue := max(*n, *batch, 1)
	if *chunk > 0 {
		queue = min(queue, 2*(*chunk)+*batch)
	}
	insertPath := ""
	if *httpURL != "" {
		insertPath = "clickhouse_http " + *httpURL
	}
	corefile := fmt.Sprintf(`.:%d {
	bind 127.0.0.1
	benchhook
	passivedns %s {
		batch %d
		queue %d
		flush 100ms
		sensor %s
		%s
	}
	benchreplay
	file %s %s
}
`, *port, *dsn, *batch, queue, *sensor, insertPath, *zone, *origin)
	caddy.Quiet, dnsserver.Quiet = true, true
	inst, err := caddy.Start(caddy.CaddyfileInput{Contents: []byte(corefile), Filepath: "Corefile", ServerTypeName: "dns"})
	if err != nil {
		return err
	}
	defer func() {
		inst.ShutdownCallbacks()
		inst.Stop()
	}()
	if *n == 0 {
		return nil
	}
	msgs, err := readQueries(*queries, min(*n, *distinct))
	if err != nil {
		return err
	}
	if chain == nil || replayer == nil {
		return fmt.Errorf("benchhook or benchreplay is not in the chain")
	}
	ctx := context.Background()
	w := &nullWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: *port}}
	for _, m := range msgs { // warm-up: the file plugin answers each query once
		if _, err := replayer.ServeDNS(ctx, w, m); err != nil {
			return err
		}
	}
	base := counter("coredns_passivedns_written_total")
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	deadline := start.Add(*timeout)
	// waitWritten waits until the writer has acknowledged at least want records.
	waitWritten := func(want int) error {
		for {
			written := counter("coredns_passivedns_written_total") - base
			if written >= float64(want) {
				return nil
			}
			if d := counter("coredns_passivedns_dropped_total"); d > 0 {
				return fmt.Errorf("passivedns dropped %.0f records", d)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("only %.0f of %d records written after %s", written, *n, *timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := range *n {
		if *chunk > 0 && i > 0 && i%*chunk == 0 {
			if err := waitWritten(i - *chunk); err != nil {
				return err
			}
		}
		chain.ServeDNS(ctx, w, msgs[i%len(msgs)])
	}
	push := time.Since(start)
	if err := waitWritten(*n); err != nil {
		return err
	}
	total := time.Since(start)
	fmt.Printf("%d %.3f %.3f %.3f\n", *n, total.Seconds(), push.Seconds(), cpuSeconds()-cpu0)
	return nil
}

func readQueries(path string, n int) ([]*dns.Msg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var msgs []*dns.Msg
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(msgs) < n {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		qt, ok := dns.StringToType[fields[1]]
		if !ok {
			return nil, fmt.Errorf("%s: unknown type %q", path, fields[1])
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(fields[0]), qt)
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%s: no queries", path)
	}
	return msgs, sc.Err()
}

// counter sums a counter of the default registry over its labels.
func counter(name string) float64 {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// nullWriter is a ResponseWriter that sends nothing, with fixed addresses as the
// server's writers have.
type nullWriter struct{ remote, local net.Addr }

func (w *nullWriter) LocalAddr() net.Addr         { return w.local }
func (w *nullWriter) RemoteAddr() net.Addr        { return w.remote }
func (w *nullWriter) WriteMsg(*dns.Msg) error     { return nil }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) Close() error                { return nil }
func (w *nullWriter) TsigStatus() error           { return nil }
func (w *nullWriter) TsigTimersOnly(bool)         {}
func (w *nullWriter) Hijack()                     {}
func (w *nullWriter) Network() string             { return "udp" }
