package record

import "time"

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
func Yield() { time.Sleep(time.Microsecond) }
