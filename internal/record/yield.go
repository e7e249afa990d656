package record

import (
	"sync/atomic"
	"time"
)

// YieldChunk is how many rows the writer handles between two Yields: a few hundred
// microseconds of work.
const YieldChunk = 256

// Yield lets the resolver's goroutines run between chunks of the writer's work on a batch
// (decoding a backlog, copying rows into a block). runtime.Gosched is not enough on a
// resolver with one core: the scheduler runs the yielding goroutine again before it looks
// for packets that arrived, so answers would wait behind the whole batch (up to the 10 ms
// the runtime allows a goroutine before it preempts it). A short sleep parks the writer,
// and the idle scheduler polls the network first. Measured with GOMAXPROCS=1, a UDP echo
// and 8 ms bursts of work in 100 µs chunks: p99 8.1-8.8 ms with Gosched or nothing between
// chunks, 1.8 ms with this.
//
// The sleep costs about a millisecond when nothing else is runnable (the idle scheduler
// waits for the network with a millisecond's resolution), so it is taken only when answers
// were captured since the last Yield: a writer draining a backlog while no queries come
// (after an outage, or a benchmark's burst) does not sleep a millisecond every few hundred
// rows. Measured before this check: a million answers queued at once went into 18.16 15-20%
// slower than without the yields.
func Yield() {
	n := captures()
	if lastYield.Swap(n) == n {
		return
	}
	time.Sleep(time.Microsecond)
}

// lastYield is what captures() said at the last Yield.
var lastYield atomic.Uint64
