package record

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestQueueBound: a queue holds exactly what it was made for, whether or not that is a
// power of two, and takes in the order pushed; after a lap round its cells it still does.
func TestQueueBound(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 1000, 1024} {
		q := NewQueue(n)
		for lap := range 3 {
			for i := range n {
				if !q.Push(Queued{n: uint32(i)}) {
					t.Fatalf("queue %d, lap %d: push %d refused", n, lap, i)
				}
			}
			if q.Push(Queued{}) {
				t.Fatalf("queue %d, lap %d: push %d accepted past the bound", n, lap, n)
			}
			if q.Len() != n || q.Cap() != n {
				t.Fatalf("queue %d: Len %d, Cap %d", n, q.Len(), q.Cap())
			}
			for i := range n {
				c, ok := q.Take()
				if !ok || c.n != uint32(i) {
					t.Fatalf("queue %d, lap %d: take %d = %d, %v", n, lap, i, c.n, ok)
				}
			}
			if _, ok := q.Take(); ok || q.Len() != 0 {
				t.Fatalf("queue %d: empty queue gave a capture (Len %d)", n, q.Len())
			}
		}
	}
}

// TestQueueConcurrent: captures pushed from many goroutines while one takes arrive once
// each, every pusher's in its own order, and what was refused is what did not arrive.
func TestQueueConcurrent(t *testing.T) {
	const pushers, each = 8, 20000
	q := NewQueue(100)
	var wg sync.WaitGroup
	refused := make([]int, pushers)
	for p := range pushers {
		wg.Go(func() {
			for i := range each {
				if !q.Push(Queued{server: uint16(p), n: uint32(i)}) {
					refused[p]++
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	next := make([]int, pushers) // the least number each pusher's next capture may carry
	got := make([]int, pushers)
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		took := false
		for c, ok := q.Take(); ok; c, ok = q.Take() {
			took = true
			p := int(c.server)
			if int(c.n) < next[p] {
				t.Fatalf("pusher %d: %d taken after %d", p, c.n, next[p]-1)
			}
			next[p] = int(c.n) + 1
			got[p]++
		}
		if finished && !took && q.Len() == 0 {
			break
		}
	}
	for p := range pushers {
		if got[p]+refused[p] != each {
			t.Errorf("pusher %d: %d taken + %d refused, want %d", p, got[p], refused[p], each)
		}
	}
}

func BenchmarkQueue(b *testing.B) {
	q := NewQueue(1 << 16)
	b.ReportAllocs()
	for b.Loop() {
		q.Push(Queued{n: 1})
		q.Take()
	}
}

// TestQueueRefusesOnlyWhenFull: pushers that each wait for their last capture to be taken
// keep at most one capture apiece in the queue, far below its bound, so a push must never
// be refused. A push that read its cell free, then found the taker already past that
// position (another pusher filled the cell and it was taken in between), once took the
// difference for a full queue and dropped a record at 500 queries a second.
func TestQueueRefusesOnlyWhenFull(t *testing.T) {
	const pushers, each = 4, 200000
	q := NewQueue(100)
	var taken [pushers]atomic.Int64
	var wg sync.WaitGroup
	var refused atomic.Int64
	for p := range pushers {
		wg.Go(func() {
			for i := range each {
				for taken[p].Load() < int64(i) {
					runtime.Gosched()
				}
				if !q.Push(Queued{server: uint16(p), n: uint32(i)}) {
					refused.Add(1)
					taken[p].Add(1) // count it as gone, so this pusher goes on
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished || q.Len() > 0; {
		select {
		case <-done:
			finished = true
		default:
		}
		for c, ok := q.Take(); ok; c, ok = q.Take() {
			taken[c.server].Add(1)
		}
	}
	if n := refused.Load(); n > 0 {
		t.Errorf("%d of %d pushes refused with at most %d of %d cells in use", n, pushers*each, pushers, q.Cap())
	}
}
