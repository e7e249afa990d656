package spool

import (
	"github.com/passivedns/passivedns/internal/record"

	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Read reads f back for replay. lost is the number of records written to f that did not
// come back intact: its name says how many were written (a name without a count: one
// per damaged stretch, all that can be known). An error wrapping ErrUnreadable means f
// cannot be read at all and is to be set aside (SetAside); any other error is passing
// (too many open files) and worth another try.
func (d *Dir) Read(f File) (b *record.Batch, caps []record.Capture, lost int, err error) {
	return d.ReadInto(f, new(Reader))
}

// Reader is what reading spool files back reuses from one file to the next: the file's
// bytes, the captures (which point into them) and the batch. A replay that reads a file
// for every batch a burst spooled would otherwise make a batch's worth of garbage each
// time, and the garbage collector lets the heap grow by as much.
type Reader struct {
	data  []byte
	caps  []record.Capture
	batch *record.Batch
}

// maxKeptRead bounds the file buffer a Reader keeps: a default batch's file is a few
// megabytes; a larger file (copied in from a host with larger batches) is read into a
// buffer of its own.
const maxKeptRead = 16 << 20

// Detach gives up r's buffers to the last Read's results, for a caller that keeps them;
// the next Read makes new ones.
func (r *Reader) Detach() { *r = Reader{} }

// ReadInto is Read with r's buffers: what it returns is valid until r's next read.
func (d *Dir) ReadInto(f File, rd *Reader) (b *record.Batch, caps []record.Capture, lost int, err error) {
	r, err := read(filepath.Join(d.Path, f.Name), rd)
	if err != nil {
		if transient(err) {
			return nil, nil, 0, err
		}
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if !r.headerOK && len(r.caps) == 0 {
		return nil, nil, 0, fmt.Errorf("%w: %s holds no spool header and no intact record", ErrUnreadable, f.Name)
	}
	lost = r.damaged
	if f.known {
		lost = max(0, int(f.records)-len(r.caps))
	}
	return r.b, r.caps, lost, nil
}

// ClaimOldest hands out the oldest file nobody is replaying.
func (d *Dir) ClaimOldest() (File, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.files {
		if !d.claimed[f.Name] {
			d.claimed[f.Name] = true
			return f, true
		}
	}
	return File{}, false
}

func (d *Dir) Release(f File) {
	d.mu.Lock()
	delete(d.claimed, f.Name)
	d.mu.Unlock()
}

// Remove deletes a file whose rows ClickHouse acknowledged. A file that cannot be
// deleted (a read-only filesystem) is still taken out of the replay, so that its rows are
// not sent and counted again and again: it stays on disk, the next start replays it, and
// the replay's check finds its rows already there.
func (d *Dir) Remove(f File) error {
	err := os.Remove(filepath.Join(d.Path, f.Name))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		d.mu.Lock()
		d.skip[f.Name] = true
		d.mu.Unlock()
		d.log.Warningf("Spool file %s was replayed but cannot be deleted (%v); skipped until restart", f.Name, err)
	}
	d.forget(f)
	return err
}
