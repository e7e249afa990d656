package passivedns

import (
	"github.com/passivedns/passivedns/internal/record"
	"github.com/passivedns/passivedns/internal/spool"

	"context"
	"errors"
	"path/filepath"
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
	if b.Len() == 0 {
		return
	}
	if w.healthy.Load() {
		select {
		case w.inserts <- b:
			return
		default: // an insert is still running: ClickHouse is slow, do not queue behind it
		}
	}
	w.spoolBatch(b)
	w.release(b)
}

// writeOrSpool is the shutdown path: one try within the deadline, else the spool.
func (w *writer) writeOrSpool(b *record.Batch, deadline time.Time) {
	if w.healthy.Load() {
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
	if rest := b.Len() - n; rest > 0 {
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
	scratch := new(record.Decoder)
	for {
		wait := replayIdle
		if f, ok := w.spool.ClaimOldest(); ok {
			if err := w.replay(ctx, f, scratch); err != nil {
				w.spool.Release(f)
				wait, backoff = backoff, min(backoff*2, maxReplayBackoff)
			} else {
				backoff, wait = minBackoff, 0
			}
		} else if !w.healthy.Load() {
			// Nothing spooled (the spool itself failed): find out another way.
			pctx, cancel := context.WithTimeout(ctx, insertTimeout)
			if err := w.sink.Ping(pctx); err == nil {
				w.setHealthy(true, nil)
			}
			cancel()
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

// replay writes one spool file back to ClickHouse and deletes it once acknowledged.
// Every replayed batch is treated as possibly landed already (CoreDNS may have died
// between the insert and the delete), so the sink checks before inserting.
func (w *writer) replay(ctx context.Context, f spool.File, scratch *record.Decoder) error {
	b, caps, damaged, err := spool.ReadFile(filepath.Join(w.spool.Path, f.Name))
	if err != nil {
		return err
	}
	if damaged > 0 {
		w.drop(dropCorrupt, damaged, errors.New("damaged records in spool file "+f.Name))
	}
	for i := range caps {
		if err := b.Add(&caps[i], scratch, w.cfg.sensor); err != nil {
			w.drop(dropEncode, 1, err)
		}
	}
	if b.Len() > 0 {
		ictx, cancel := context.WithTimeout(ctx, insertTimeout)
		err := w.insert(ictx, b)
		cancel()
		if err != nil {
			return err
		}
		replayedCount.Add(float64(b.Len()))
	}
	return w.spool.Remove(f)
}
