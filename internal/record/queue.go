package record

import (
	"sync/atomic"
)

// Queue is the bounded queue between the resolver's goroutines and the one writer that
// drains it: many push, one takes. A channel does the same with a lock that the pushing
// and the draining goroutine both take for every capture; on a resolver with more than one
// core the lock's cache line then moves between cores twice per answer, and a push waits
// whenever a drain holds it. Here a push claims a cell with one compare-and-swap and
// publishes it with a store; the writer reads cells without writing anything the pushers
// read on every push, so the two sides only share the cells themselves.
//
// It is the bounded multi-producer queue of Dmitry Vyukov's design: every cell has a
// sequence number that says whose turn it is, the pushers' or the taker's.
type Queue struct {
	// The pushers' position and the taker's each have a cache line of their own, so one
	// side's writes do not evict what the other reads.
	_    [64]byte
	tail atomic.Uint64 // the next position a push claims
	_    [56]byte
	head atomic.Uint64 // the next position Take reads; written by the taker only
	_    [56]byte

	cells []queueCell
	mask  uint64
	limit uint64
}

// queueCell is one Queued and its turn; 64 bytes, one cache line. The turn is stored less
// the cell's index, so that a new queue's cells are all zero: its memory is not touched
// until used.
type queueCell struct {
	seq atomic.Uint64
	q   Queued
}

// NewQueue returns a queue that holds up to n captures.
func NewQueue(n int) *Queue {
	size := uint64(2) // a cell's turns need two cells at least to tell full from free
	for size < uint64(n) {
		size <<= 1
	}
	return &Queue{cells: make([]queueCell, size), mask: size - 1, limit: uint64(n)}
}

// Push adds c and reports true, or reports false when the queue is full; it never waits.
func (q *Queue) Push(c Queued) bool {
	pos := q.tail.Load()
	for {
		i := pos & q.mask
		cell := &q.cells[i]
		switch seq := cell.seq.Load() + i; {
		case seq == pos:
			// The cell is free; the limit is checked only when the cells themselves would
			// allow more than asked for (a size rounded up to a power of two). The head is
			// read after the cell: by then another push may have filled this cell and the
			// taker read it, so a head past pos means pos is stale (the CAS fails and
			// retries), not that the queue is full.
			if q.limit <= q.mask {
				if head := q.head.Load(); pos >= head && pos-head >= q.limit {
					return false
				}
			}
			if q.tail.CompareAndSwap(pos, pos+1) {
				cell.q = c
				cell.seq.Store(pos + 1 - i)
				return true
			}
			pos = q.tail.Load()
		case seq < pos:
			return false // a full lap behind: the taker has not read this cell yet
		default:
			pos = q.tail.Load() // another push claimed it
		}
	}
}

// Take removes the oldest capture. It reports false when there is none, or when the
// oldest one is claimed but not yet written (its push is under way); it is called by one
// goroutine only.
func (q *Queue) Take() (Queued, bool) {
	pos := q.head.Load()
	i := pos & q.mask
	cell := &q.cells[i]
	if cell.seq.Load()+i != pos+1 {
		return Queued{}, false
	}
	c := cell.q
	cell.seq.Store(pos + q.mask + 1 - i)
	q.head.Store(pos + 1)
	return c, true
}

// Len is the number of captures queued, or being pushed, right now.
func (q *Queue) Len() int {
	head := q.head.Load()
	tail := q.tail.Load()
	if tail < head {
		return 0
	}
	return int(tail - head)
}

// Cap is the most captures the queue holds.
func (q *Queue) Cap() int { return int(q.limit) }
