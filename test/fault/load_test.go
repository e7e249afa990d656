package fault

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// load sends A queries for unique names under load.example.org to a resolver from a few
// goroutines, each with its own UDP socket and one query outstanding, and keeps every
// answer it receives (its name and round-trip time) and every query it gave up on.
type load struct {
	addr    string
	prefix  string
	timeout time.Duration
	keep    bool // keep each answer; false: count only (saturation)

	stop chan struct{}
	wg   sync.WaitGroup

	mu         sync.Mutex
	answers    []answer
	answered   map[string]bool
	unanswered map[string]error // qname: why; the resolver may still have answered (late)
	bad        []string         // answers other than NOERROR with the wildcard's address
	sent       atomic.Int64
	received   atomic.Int64
	started    time.Time
	stopped    time.Time
}

type answer struct {
	qname string
	sent  time.Time
	rtt   time.Duration
}

// loadLimit bounds every load in time, whatever happens to the test.
const loadLimit = 2 * time.Minute

// startLoad starts workers goroutines sending qps queries per second in all (0: as fast
// as answers come back), each for at most loadLimit and at most qps x loadLimit queries.
// Names are PREFIX-WORKER-N.load.example.org.
func startLoad(t *testing.T, addr, prefix string, workers, qps int, timeout time.Duration, keep bool) *load {
	t.Helper()
	l := &load{
		addr: addr, prefix: prefix, timeout: timeout, keep: keep,
		stop:       make(chan struct{}),
		answered:   map[string]bool{},
		unanswered: map[string]error{},
		started:    time.Now(),
	}
	for w := range workers {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		l.wg.Add(1)
		go l.worker(conn, w, workers, qps)
	}
	t.Cleanup(l.end) // stops the load when the test fails early
	return l
}

func (l *load) worker(conn net.Conn, w, workers, qps int) {
	defer l.wg.Done()
	defer conn.Close()
	co := &dns.Conn{Conn: conn}
	var interval time.Duration
	maxCount := int(^uint(0) >> 1)
	if qps > 0 {
		interval = time.Duration(workers) * time.Second / time.Duration(qps)
		maxCount = qps * int(loadLimit/time.Second) / workers
	}
	deadline := time.Now().Add(loadLimit)
	next := time.Now().Add(time.Duration(w) * interval / time.Duration(workers)) // spread the workers
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; i < maxCount; i++ {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				timer.Reset(d)
				select {
				case <-l.stop:
					return
				case <-timer.C:
				}
			}
			next = next.Add(interval)
			if time.Since(next) > time.Second {
				next = time.Now() // after a stall (a timeout): no burst to catch up
			}
		}
		select {
		case <-l.stop:
			return
		default:
		}
		if time.Now().After(deadline) {
			return
		}
		qname := fmt.Sprintf("%s-%d-%d.load.example.org.", l.prefix, w, i)
		l.exchange(co, qname)
	}
}

// exchange sends one query and waits for its answer, skipping late answers to earlier
// queries of this socket.
func (l *load) exchange(co *dns.Conn, qname string) {
	q := new(dns.Msg)
	q.SetQuestion(qname, dns.TypeA)
	sent := time.Now()
	l.sent.Add(1)
	fail := func(err error) {
		l.mu.Lock()
		l.unanswered[qname] = err
		l.mu.Unlock()
	}
	if err := co.SetDeadline(sent.Add(l.timeout)); err != nil {
		fail(err)
		return
	}
	if err := co.WriteMsg(q); err != nil {
		fail(err)
		return
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			fail(err)
			return
		}
		if r.Id != q.Id || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, qname) {
			continue // a late answer to a query given up on
		}
		rtt := time.Since(sent)
		l.received.Add(1)
		ok := r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1
		if ok {
			a, isA := r.Answer[0].(*dns.A)
			ok = isA && a.A.String() == loadAddr
		}
		l.mu.Lock()
		if !ok && len(l.bad) < 10 {
			l.bad = append(l.bad, r.String())
		}
		if l.keep {
			l.answers = append(l.answers, answer{qname: qname, sent: sent, rtt: rtt})
			l.answered[qname] = true
		}
		l.mu.Unlock()
		return
	}
}

// end stops the load and waits for the workers (at most one timeout).
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
		l.wg.Wait()
		l.stopped = time.Now()
	}
}

// count returns the number of answers received so far.
func (l *load) count() int { return int(l.received.Load()) }

// finish stops the load and fails the test if any answer was not the wildcard's.
func (l *load) finish(t *testing.T) {
	t.Helper()
	l.end()
	t.Logf("load %s: %d queries in %v (%.0f/s), %d answers, %d unanswered",
		l.prefix, l.sent.Load(), l.stopped.Sub(l.started).Round(time.Millisecond),
		float64(l.sent.Load())/l.stopped.Sub(l.started).Seconds(), l.received.Load(), len(l.unanswered))
	for _, b := range l.bad {
		t.Errorf("unexpected answer:\n%s", b)
	}
	n := 0
	for q, err := range l.unanswered {
		if n++; n > 10 {
			break
		}
		t.Logf("unanswered: %s: %v", q, err)
	}
}

// p99 returns the 99th percentile round-trip time of the answers to queries sent in
// [from, to), and their number.
func (l *load) p99(from, to time.Time) (time.Duration, int) {
	l.mu.Lock()
	var rtts []time.Duration
	for _, a := range l.answers {
		if !a.sent.Before(from) && a.sent.Before(to) {
			rtts = append(rtts, a.rtt)
		}
	}
	l.mu.Unlock()
	if len(rtts) == 0 {
		return 0, 0
	}
	slices.Sort(rtts)
	return rtts[(len(rtts)*99+99)/100-1], len(rtts)
}

// unansweredCount is the number of queries given up on so far.
func (l *load) unansweredCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.unanswered)
}
