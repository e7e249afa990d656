package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"

	"time"
)

// Without a spool, a full batch goes to the flusher goroutine, which writes it (retrying
// until ClickHouse takes it or the writer stops) while the writer decodes the next one.
// ClickHouse's work on one batch and the decoding of the next then overlap: waiting for
// each insert before decoding again left the server idle a third of the time at full
// load. One batch at most is in flight, so rows still land in the order they were
// captured; a writer with a full batch waits for the flusher, and meanwhile the bounded
// queue takes what comes, as it did while the writer inserted itself.
type flusher struct {
	in   chan *record.Batch // unbuffered: a send is a batch the flusher has taken
	back chan *record.Batch // the batch it had not written when the writer quit
	done chan struct{}
}

func (w *writer) startFlusher(quit chan struct{}) *flusher {
	f := &flusher{in: make(chan *record.Batch), back: make(chan *record.Batch, 1), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for b := range f.in {
			if !w.flushUntil(b, time.Time{}, quit) {
				f.back <- b
				return
			}
			w.release(b)
		}
	}()
	return f
}

// handOff gives b to the flusher, doing the writer's tick while it waits for the one in
// flight; false if quit came first.
func (w *writer) handOff(f *flusher, b *record.Batch, quit chan struct{}, logTick <-chan time.Time) bool {
	for {
		select {
		case f.in <- b:
			return true
		case <-logTick:
			w.tick()
		case <-quit:
			return false
		}
	}
}

// stop waits for the batch in flight and returns it if it was not written (the writer
// quit while its insert was failing); nil if there was none or it was written. A nil
// flusher (with a spool) has nothing in flight.
func (f *flusher) stop() *record.Batch {
	if f == nil {
		return nil
	}
	close(f.in)
	<-f.done
	select {
	case b := <-f.back:
		return b
	default:
		return nil
	}
}
