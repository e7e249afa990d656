package passivedns

import (
	"github.com/passivedns/passivedns/internal/chsink"
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/schema"
	"github.com/passivedns/passivedns/internal/spool"
	"github.com/passivedns/passivedns/internal/watch"

	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// queueBytesPerRecord bounds the wire bytes held in the queue: queue x this. Typical
	// answers are 100-300 bytes; a burst of huge ones is dropped (and counted) instead of
	// growing memory past the bound.
	queueBytesPerRecord = 1024

	insertTimeout   = 30 * time.Second // one insert attempt, Send included
	minBackoff      = 100 * time.Millisecond
	maxBackoff      = 30 * time.Second
	shutdownTimeout = 10 * time.Second // final flush on reload or exit
	startupWait     = 2 * time.Second  // longest startup waits for ClickHouse
)

// sink is where the writer sends batches; an interface so the writer's tests need no
// ClickHouse.
type sink interface {
	// prepare connects and checks or creates the schema. An error wrapping errFatal
	// means retrying cannot help (a schema newer than this build).
	Prepare(ctx context.Context) error
	// write inserts the batch. A batch whose earlier attempt may have landed has
	// uncertain set; write must then make sure no row is inserted twice.
	Write(ctx context.Context, b *record.Batch) error
	// ping checks that ClickHouse answers.
	Ping(ctx context.Context) error
	Close() error
}

// consumer is a sink that is done with a batch when Write returns: nothing of it is kept,
// so the writer reuses the batch's buffers for a later batch.
type consumer interface{ ConsumesBatches() }

// flavored is a sink that knows the schema flavor of its table (modern or portable) once
// prepared.
type flavored interface{ Modern() bool }

// freeBatches bounds the batches kept for reuse: the one being filled, the one being
// inserted and one spare.
const freeBatches = 3

// writer owns the queue between ServeDNS and ClickHouse and the one goroutine that
// drains it: it decodes captures into batches and inserts a batch when it is full or
// when its oldest record has waited cfg.flush.
type writer struct {
	cfg  config
	sink sink
	// watch, when set, is shown every acknowledged batch (watchlists); it only queues.
	watch *watch.Watcher

	queue       *record.Queue
	queuedBytes atomic.Int64
	maxBytes    int64
	// idle is set while the writer waits for a first capture on wake, rather than
	// polling the queue; a push then sends on wake.
	idle atomic.Bool
	wake chan struct{}

	mu      sync.Mutex // guards quit and done across start/stop
	quit    chan struct{}
	done    chan struct{}
	stopped atomic.Bool

	healthy atomic.Bool // state of ClickHouse as last seen, for logging changes only

	shutdownTimeout time.Duration

	dropsSinceLog atomic.Int64
	lastDrop      atomic.Value // string
	lastError     atomic.Value // string: the last ClickHouse error, for the status
	lastWrite     atomic.Int64 // unix ns of the last acknowledged insert

	// With a spool: the batch handed to the inserter, the spool, and what stops the
	// inserter and the replayer.
	spool     *spool.Dir
	inserts   chan *record.Batch
	inserting atomic.Bool // the inserter has a batch (see dispatch)
	cancel    context.CancelFunc
	workers   sync.WaitGroup

	// free holds written batches for reuse when the sink is a consumer; nil otherwise.
	free chan *record.Batch
}

func newWriter(cfg config, s sink) *writer {
	w := &writer{
		cfg:      cfg,
		sink:     s,
		queue:    record.NewQueue(cfg.queue),
		wake:     make(chan struct{}, 1),
		maxBytes: int64(cfg.queue) * queueBytesPerRecord,

		shutdownTimeout: shutdownTimeout,
	}
	w.healthy.Store(true)
	if _, ok := s.(consumer); ok {
		w.free = make(chan *record.Batch, freeBatches)
	}
	return w
}

// newBatch is an empty batch with a fresh id, reusing a written one's buffers if any. It
// is decoded into a block of the flavor the sink last found, so the block goes out as it is.
func (w *writer) newBatch() *record.Batch {
	modern := false
	if f, ok := w.sink.(flavored); ok {
		modern = f.Modern()
	}
	select {
	case b := <-w.free:
		if b.Modern() == modern {
			b.Reset(record.NewBatchID())
			return b
		}
		b.Reset(0) // hand its captures back; its buffers are of the other flavor
	default:
	}
	return record.NewBatch(record.NewBatchID(), modern)
}

// release hands back a batch that is written, spooled or dropped, for reuse.
func (w *writer) release(b *record.Batch) {
	if w.free == nil {
		return
	}
	select {
	case w.free <- b:
	default:
	}
}

// push moves c into the queue and never blocks: a full queue drops the record and counts
// it. c is taken by pointer, not copied: a capture is two cache lines.
//
// The bytes are counted before stopped is read: a push that finds the writer running has
// its bytes counted by then, and the final drain waits for them (takeDraining). So every
// capture is either drained or counted as a shutdown drop, with no extra atomic here.
func (w *writer) push(c *record.Capture) {
	capturedCount.Inc()
	n := int64(c.QueuedBytes())
	total := w.queuedBytes.Add(n)
	if w.stopped.Load() {
		w.queuedBytes.Add(-n)
		c.Release()
		w.drop(dropShutdown, 1, nil)
		return
	}
	if total > w.maxBytes {
		w.queuedBytes.Add(-n)
		c.Release()
		w.drop(dropQueueFull, 1, nil)
		return
	}
	q := c.Queue()
	if !w.queue.Push(q) {
		w.queuedBytes.Add(-n)
		q.Drop()
		w.drop(dropQueueFull, 1, nil)
		return
	}
	if w.idle.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// drop counts lost records in the metric at once; the log line comes from logDrops,
// once a second at most, so a flood of drops is one line, not one per record.
func (w *writer) drop(reason string, n int, err error) {
	droppedCount.WithLabelValues(reason).Add(float64(n))
	msg := reason
	if err != nil {
		msg += ": " + err.Error()
	}
	w.lastDrop.Store(msg)
	w.dropsSinceLog.Add(int64(n))
}

func (w *writer) logDrops() {
	if n := w.dropsSinceLog.Swap(0); n > 0 {
		log.Warningf("Dropped %d responses (latest reason %s)", n, w.lastDrop.Load())
	}
}

func (w *writer) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quit != nil {
		return nil
	}
	// A reachable server with a schema this build cannot use fails startup now, with
	// the reason. An unreachable or slow one (a schema upgrade backfilling a large table)
	// must not keep DNS from starting: preparing goes on in the background, and inserts
	// wait for it.
	prepared := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
		defer cancel()
		prepared <- w.sink.Prepare(ctx)
	}()
	var err error
	select {
	case err = <-prepared:
		if errors.Is(err, schema.ErrFatal) {
			return err
		}
		if err != nil {
			w.setHealthy(false, err)
		} else {
			clickhouseUp.Set(1)
		}
	case <-time.After(startupWait):
		log.Infof("ClickHouse is not ready after %s; DNS starts and recording catches up when it is", startupWait)
	}
	if w.cfg.spoolDir != "" {
		if w.spool, err = spool.Open(w.cfg.spoolDir, w.cfg.spoolSize, log); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel = cancel
		w.inserts = make(chan *record.Batch)
		w.workers.Add(2)
		go w.inserter(ctx)
		go w.replayer(ctx)
	}
	w.quit, w.done = make(chan struct{}), make(chan struct{})
	w.stopped.Store(false)
	go w.run(w.quit, w.done)
	return nil
}

// stop flushes what was captured and waits for it, up to shutdownTimeout.
func (w *writer) stop() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quit == nil {
		return nil
	}
	w.stopped.Store(true)
	close(w.quit)
	<-w.done
	if w.spool != nil {
		w.cancel() // an insert in flight fails at once and is spooled
		w.workers.Wait()
		// The pointer stays: the status may still read the (closed) spool's counts.
		w.spool.Close()
	}
	w.quit, w.done = nil, nil
	return w.sink.Close()
}

// pollInterval is how long the writer lets captures gather in the queue while answers
// keep coming. Taking them one by one would wake the writer goroutine once per answer: a
// scheduler round trip (and on a resolver with several cores a futex call) on every
// query. Polling, a push finds nobody to wake and only writes its cell; the writer wakes
// a few hundred times a second and takes what has gathered. When a poll finds the queue
// empty the writer goes idle and waits to be woken, so an idle resolver costs nothing.
const pollInterval = 2 * time.Millisecond

func (w *writer) run(quit, done chan struct{}) {
	defer close(done)
	var (
		cur     = w.newBatch()
		scratch = new(record.Decoder)
		timer   = time.NewTimer(w.cfg.flush)
		poll    = time.NewTimer(pollInterval)
		logTick = time.NewTicker(time.Second)
		// wake is w.wake while the writer is idle, nil while it polls.
		wake <-chan struct{}
	)
	timer.Stop()
	poll.Stop()
	defer logTick.Stop()
	defer w.logDrops()
	goIdle := func() {
		// Idle first, then look: a push either comes before the look and is seen, or
		// after the store and finds the writer idle (and wakes it).
		w.idle.Store(true)
		if w.queue.Len() > 0 {
			w.idle.Store(false)
			poll.Reset(pollInterval)
			return
		}
		wake = w.wake
	}
	goIdle()
	for {
		full, was := false, cur.Records()
		select {
		case <-wake:
			w.idle.Store(false)
			wake = nil
			w.takeQueued(cur, scratch)
			full = cur.Records() >= w.cfg.batch
			poll.Reset(pollInterval)
		case <-poll.C:
			if w.takeQueued(cur, scratch) == 0 {
				goIdle()
			} else {
				poll.Reset(pollInterval)
			}
			full = cur.Records() >= w.cfg.batch
		case <-timer.C:
			full = true
		case <-logTick.C:
			w.logDrops()
		case <-quit:
			timer.Stop()
			poll.Stop()
			w.drain(cur, scratch)
			return
		}
		if was == 0 && cur.Records() > 0 {
			timer.Reset(w.cfg.flush)
		}
		if full && w.spool != nil {
			timer.Stop()
			w.dispatch(cur)
			cur = w.newBatch()
		} else if full {
			timer.Stop()
			// Interrupted by quit: the drain takes over this batch and the queue.
			if cur.Len() > 0 && !w.flushUntil(cur, time.Time{}, quit) {
				w.drain(cur, scratch)
				return
			}
			w.release(cur)
			cur = w.newBatch()
		}
		queueLength.Set(float64(w.queue.Len() + cur.Records()))
	}
}

// takeQueued moves what is queued into b without waiting, until b is full, and says how
// many captures it took.
//
// The queue's bytes are given back once a chunk, not once a capture: on a resolver with
// more cores the counter's cache line then moves to the writer's core once a chunk, not
// between every push and take. Until then the count overstates the queue by one chunk.
func (w *writer) takeQueued(b *record.Batch, scratch *record.Decoder) int {
	n, taken := 0, int64(0)
	defer func() {
		w.queuedBytes.Add(-taken)
		w.decoded(b)
	}()
	for b.Records() < w.cfg.batch {
		q, ok := w.queue.Take()
		if !ok {
			return n
		}
		taken += int64(q.Bytes())
		w.take(b, &q, scratch)
		if n++; n%record.YieldChunk == 0 {
			w.queuedBytes.Add(-taken)
			taken = 0
			w.decoded(b)
			record.Yield() // a backlog after an insert is a whole batch of decoding
		}
	}
	return n
}

// decoded hands back the wire copies of the rows decoded so far, in one go: only a spool
// reads them again.
func (w *writer) decoded(b *record.Batch) {
	if w.spool == nil {
		b.ReleaseCaptures()
	}
}

// take decodes q into b; the caller gives q's bytes back to the queue's count.
func (w *writer) take(b *record.Batch, q *record.Queued, scratch *record.Decoder) {
	c := q.Capture()
	if b.Records() == 0 && w.spool != nil {
		// A batch that starts while ClickHouse is down or still busy with the batch
		// before is bound for the spool: decoding it would be work done twice.
		b.Undecoded = !w.healthy.Load() || w.inserting.Load()
	}
	if b.Undecoded {
		b.Keep(&c)
		return
	}
	if err := b.Add(&c, scratch, w.cfg.sensor); err != nil {
		c.Release()
		w.drop(dropEncode, 1, err)
		return
	}
}

// drain writes cur and everything still queued, in batches, within shutdownTimeout;
// what cannot be written by then is counted as dropped.
func (w *writer) drain(cur *record.Batch, scratch *record.Decoder) {
	deadline := time.Now().Add(w.shutdownTimeout)
	for {
	fill:
		for cur.Records() < w.cfg.batch {
			q, ok := w.takeDraining(deadline)
			if !ok {
				break fill
			}
			w.queuedBytes.Add(-int64(q.Bytes()))
			w.take(cur, &q, scratch)
		}
		w.decoded(cur)
		if cur.Records() == 0 {
			break
		}
		if w.spool != nil {
			w.writeOrSpool(cur, deadline)
			w.release(cur)
			cur = w.newBatch()
			continue
		}
		if !w.flushUntil(cur, deadline, nil) {
			lost := cur.Len()
			grace := time.Now().Add(drainGrace)
			for q, ok := w.takeDraining(grace); ok; q, ok = w.takeDraining(grace) {
				w.queuedBytes.Add(-int64(q.Bytes()))
				q.Drop()
				lost++
			}
			w.drop(dropShutdown, lost, errors.New("ClickHouse unreachable at shutdown"))
			break
		}
		w.release(cur)
		cur = w.newBatch()
	}
	queueLength.Set(0)
}

// drainGrace is how long a drain that gave up on ClickHouse still waits for pushes on
// their way into the queue, to count them as dropped.
const drainGrace = time.Second

// takeDraining is Take for the final drain, once stopped is set: while bytes are counted
// that are not yet in the queue, a push that found the writer running is still on its way
// (or a push that found it stopped is taking its count back), and it waits for that, up
// to the deadline. Without the wait such a capture would stay in the queue, neither
// written nor counted.
func (w *writer) takeDraining(deadline time.Time) (record.Queued, bool) {
	for {
		if q, ok := w.queue.Take(); ok {
			return q, true
		}
		if w.queuedBytes.Load() <= 0 || time.Now().After(deadline) {
			return record.Queued{}, false
		}
		runtime.Gosched()
	}
}

// flushUntil writes b, retrying with backoff, until it is written or rejected (true),
// or until the deadline (if set) or quit. While it retries, the queue fills and further
// records are dropped and counted: memory stays bounded by the queue.
func (w *writer) flushUntil(b *record.Batch, deadline time.Time, quit chan struct{}) bool {
	backoff := minBackoff
	for {
		ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
		if !deadline.IsZero() {
			ctx, cancel = context.WithDeadline(context.Background(), deadline)
		}
		err := w.insert(ctx, b)
		cancel()
		if err == nil {
			return true
		}
		if !deadline.IsZero() && time.Now().Add(backoff).After(deadline) {
			return false
		}
		select {
		case <-time.After(backoff):
		case <-quit:
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// insert makes one attempt at writing b and does the bookkeeping. Rows ClickHouse
// rejects as invalid are dropped and counted: that is a success for the caller (nil),
// since retrying them cannot help.
func (w *writer) insert(ctx context.Context, b *record.Batch) error {
	_, err := w.insertRows(ctx, b)
	return err
}

// insertRows is insert that also says whether the rows were rejected (and dropped)
// rather than written.
func (w *writer) insertRows(ctx context.Context, b *record.Batch) (rejected bool, err error) {
	start := time.Now()
	n := b.Len()
	err = w.sink.Write(ctx, b)
	switch {
	case err == nil:
		flushDuration.Observe(time.Since(start).Seconds())
		batchSize.Observe(float64(n))
		writtenCount.Add(float64(n))
		w.lastWrite.Store(time.Now().UnixNano())
		w.setHealthy(true, nil)
		if w.watch != nil {
			w.watch.Observe(b)
		}
		return false, nil
	case errors.Is(err, chsink.ErrRejected):
		errorCount.WithLabelValues("insert").Inc()
		w.lastError.Store(err.Error())
		w.drop(dropRejected, n, err)
		return true, nil
	}
	errorCount.WithLabelValues("insert").Inc()
	w.setHealthy(false, err)
	return false, err
}

// setHealthy logs only changes of state, so an outage is one line, not one per retry.
func (w *writer) setHealthy(ok bool, err error) {
	if ok {
		clickhouseUp.Set(1)
	} else {
		clickhouseUp.Set(0)
		w.lastError.Store(err.Error())
	}
	if w.healthy.Swap(ok) == ok {
		return
	}
	if ok {
		log.Infof("ClickHouse is reachable again; writing resumes")
	} else {
		if w.cfg.spoolDir != "" {
			log.Errorf("Cannot write to ClickHouse, spooling to %s and retrying: %v", w.cfg.spoolDir, err)
		} else {
			log.Errorf("Cannot write to ClickHouse, holding up to %d responses in memory and retrying: %v", w.cfg.queue, err)
		}
	}
}
