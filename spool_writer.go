package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/spool"

	"context"
	"errors"
	"fmt"
	"time"
)

// With a spool the writer goroutine never waits on ClickHouse: a full batch goes to the
// inserter goroutine if ClickHouse is healthy and the inserter is idle, and to the spool
// otherwise. A failed insert is spooled too. The replayer goroutine writes spooled files
// back, oldest first, deleting each only once ClickHouse acknowledged its rows; its
// success is also what marks ClickHouse healthy again after an outage.

const (
	replayIdle = time.Second // how often an idle replayer looks for work
	// maxReplayBackoff caps the wait between failed replays: the first replay that
	// succeeds is what ends an outage for live batches too, so it must come soon after
	// ClickHouse is back. A failed try costs ClickHouse little.
	maxReplayBackoff = 2 * time.Second
)

// dispatch hands b to the inserter or spools it; it never blocks on ClickHouse.
func (w *writer) dispatch(b *record.Batch) {
	if b.Records() == 0 {
		return
	}
	// Only the writer sets inserting, and the inserter clears it when it is done with a
	// batch: the send waits for the inserter to come round to its receive, never on an
	// insert. A batch that finds an insert still running (ClickHouse is slow) does not
	// queue behind it.
	if w.healthy.Load() && !b.Undecoded && w.inserting.CompareAndSwap(false, true) {
		w.inserts <- b
		return
	}
	w.spoolBatch(b)
	w.release(b)
}

// writeOrSpool is the shutdown path: one try within the deadline, else the spool.
func (w *writer) writeOrSpool(b *record.Batch, deadline time.Time) {
	if w.healthy.Load() && !b.Undecoded {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := w.insert(ctx, b)
		cancel()
		if err == nil {
			return
		}
	}
	w.spoolBatch(b)
}

func (w *writer) inserter(ctx context.Context) {
	defer w.workers.Done()
	for {
		select {
		case b := <-w.inserts:
			ictx, cancel := context.WithTimeout(ctx, insertTimeout)
			err := w.insert(ictx, b)
			cancel()
			if err != nil {
				w.spoolBatch(b)
			}
			w.release(b)
			w.inserting.Store(false)
		case <-ctx.Done():
			return
		}
	}
}

// spoolBatch writes b to the spool; what does not fit (spool full) or cannot be written
// (disk error) is dropped and counted.
func (w *writer) spoolBatch(b *record.Batch) {
	n, err := w.spool.Write(b)
	spooledCount.Add(float64(n))
	if rest := b.Records() - n; rest > 0 {
		reason := dropSpoolErr
		if errors.Is(err, spool.ErrFull) {
			reason = dropSpoolFull
		}
		w.drop(reason, rest, err)
	}
}

func (w *writer) replayer(ctx context.Context) {
	defer w.workers.Done()
	backoff := minBackoff
	scratch := new(replayScratch)
	for {
		wait := replayIdle
		f, ok := w.spool.ClaimOldest()
		if !ok && w.spool.Rescan() > 0 { // files copied into the directory
			f, ok = w.spool.ClaimOldest()
		}
		switch {
		case ok:
			err := w.replay(ctx, f, scratch)
			if err == nil {
				backoff, wait = minBackoff, 0
				break
			}
			w.spool.Release(f)
			wait, backoff = backoff, min(backoff*2, maxReplayBackoff)
			if !errors.As(err, new(insertError)) {
				// The file, not ClickHouse, failed: the replay says nothing of ClickHouse.
				w.pingIfDown(ctx)
			}
		default:
			// Nothing to replay (or the spool itself failed): find out another way.
			w.pingIfDown(ctx)
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
	}
}

// pingIfDown marks ClickHouse healthy again when it answers a ping.
func (w *writer) pingIfDown(ctx context.Context) {
	if w.healthy.Load() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, insertTimeout)
	defer cancel()
	if err := w.sink.Ping(pctx); err == nil {
		w.setHealthy(true, nil)
	}
}

// replayScratch is what the replayer reuses from one file to the next.
type replayScratch struct {
	decoder record.Decoder
	reader  spool.Reader
}

// insertError is a replay that failed in ClickHouse.
type insertError struct{ error }

func (e insertError) Unwrap() error { return e.error }

// replay writes one spool file back to ClickHouse and deletes it once acknowledged.
// Every replayed batch is treated as possibly landed already (CoreDNS may have died
// between the insert and the delete): the sink resends it under its deduplication token, or
// on servers without tokens checks what landed before inserting.
//
// The file's losses are counted once, when its rows are acknowledged (or it is set
// aside), and in records: spooled = replayed + dropped{corrupt, unreadable}, however
// often the insert fails before. A file that cannot be read is set aside and the replay
// goes on with the next one: it returns an error only when the same file is worth
// another try.
func (w *writer) replay(ctx context.Context, f spool.File, scratch *replayScratch) error {
	if w.free == nil {
		// The sink keeps the batches it is given: this one must not be read into again.
		defer scratch.reader.Detach()
	}
	b, caps, lost, err := w.spool.ReadInto(f, &scratch.reader)
	if errors.Is(err, spool.ErrUnreadable) {
		if n := w.spool.SetAside(f, err); n > 0 {
			w.drop(dropUnreadable, int(n), err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var (
		encodeLost int
		encodeErr  error
	)
	for i := range caps {
		if err := b.Add(&caps[i], &scratch.decoder, w.cfg.sensor); err != nil {
			encodeLost, encodeErr = encodeLost+1, err
		}
	}
	if b.Len() > 0 {
		ictx, cancel := context.WithTimeout(ctx, insertTimeout)
		rejected, err := w.insertRows(ictx, b)
		cancel()
		if err != nil {
			return insertError{err}
		}
		if !rejected { // rejected rows are counted as dropped, not replayed
			replayedCount.Add(float64(b.Len()))
		}
	}
	if lost > 0 {
		w.drop(dropCorrupt, lost, fmt.Errorf("%d of %d records damaged in spool file %s", lost, f.Records(), f.Name))
	}
	if encodeLost > 0 {
		w.drop(dropEncode, encodeLost, encodeErr)
	}
	w.spool.Remove(f) // a failure is logged, and the file is not replayed again
	return nil
}
