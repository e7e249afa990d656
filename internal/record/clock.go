package record

import (
	"sync/atomic"
	"time"
)

// A capture needs two instants, the query's arrival and the answer's, and the wall time of
// the answer. time.Now reads both the wall and the monotonic clock, and on a virtual
// machine each reading costs 20-40 ns: a tenth of a capture. So captures read only the
// monotonic clock (Mono), and the wall time is derived from it through an anchor, a wall and
// a monotonic reading taken together. WallTime takes a new anchor when the last is a second
// old, so a step of the system clock shows in the stored times a second later at most,
// whatever the writer is doing. NTP's gradual corrections slew both clocks alike.

var (
	clockEpoch = time.Now()
	// clockOffset is the wall clock in Unix ns minus Mono, at the last anchor; clockTaken
	// is Mono then.
	clockOffset, clockTaken atomic.Int64
)

// anchorAge is how long an anchor is used before WallTime takes a new one.
const anchorAge = time.Second

func init() { takeAnchor(Mono()) }

// Mono is the time since the process's epoch on the monotonic clock: one clock reading.
func Mono() time.Duration { return time.Since(clockEpoch) }

// WallTime is the wall time at the monotonic reading m.
func WallTime(m time.Duration) time.Time {
	// Once a second one caller (the one whose swap wins) reads the wall clock again.
	if t := clockTaken.Load(); int64(m)-t > int64(anchorAge) && clockTaken.CompareAndSwap(t, int64(m)) {
		takeAnchor(m)
	}
	return time.Unix(0, clockOffset.Load()+int64(m))
}

// takeAnchor reads both clocks together and keeps their difference.
func takeAnchor(m time.Duration) {
	now := time.Now()
	clockOffset.Store(now.UnixNano() - int64(now.Sub(clockEpoch)))
	clockTaken.Store(int64(m))
}
