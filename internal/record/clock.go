package record

import (
	"sync/atomic"
	"time"
)

// A capture needs two instants, the query's arrival and the answer's, and the wall time of
// the answer. time.Now reads both the wall and the monotonic clock, and on a virtual
// machine each reading costs 20-40 ns: a tenth of a capture. So captures read only the
// monotonic clock (Mono), and the wall time is derived from it through an anchor, a wall and
// a monotonic reading taken together, which the writer takes again every second
// (RefreshClock): a step of the system clock shows in the stored times a second later at
// most. NTP's gradual corrections slew both clocks alike.

var (
	clockEpoch  = time.Now()
	clockAnchor atomic.Int64 // wall clock in Unix ns minus Mono, at the last refresh
)

func init() { RefreshClock() }

// Mono is the time since the process's epoch on the monotonic clock: one clock reading.
func Mono() time.Duration { return time.Since(clockEpoch) }

// WallTime is the wall time at the monotonic reading m.
func WallTime(m time.Duration) time.Time { return time.Unix(0, clockAnchor.Load()+int64(m)) }

// RefreshClock takes a new anchor, for a wall clock that may have been set since the last.
func RefreshClock() {
	now := time.Now()
	clockAnchor.Store(now.UnixNano() - int64(now.Sub(clockEpoch)))
}
