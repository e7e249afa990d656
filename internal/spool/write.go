package spool

import (
	"github.com/passivedns/passivedns/internal/record"

	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrFull and friends say why records were not spooled.
var ErrFull = errors.New("spool full")

// Write spools the captures of b. It returns how many records were written; the rest
// were not (spool full: the newest are the ones left out; or a write error, such as a full
// disk) and err says why.
func (d *Dir) Write(b *record.Batch) (written int, err error) {
	// One write at a time, so that the room each one sees is real.
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	d.mu.Lock()
	d.seq++
	seq := d.seq
	room := d.maxSize - d.bytes
	d.mu.Unlock()

	var (
		header = make([]byte, 0, HeaderLen)
		flags  byte
	)
	if b.Uncertain {
		flags = 1
	}
	header = append(header, HeaderMagic...)
	header = binary.BigEndian.AppendUint64(header, b.ID)
	header = append(header, flags)
	if int64(len(header)) > room {
		return 0, ErrFull
	}

	part := filepath.Join(d.Path, fmt.Sprintf("%020d%s", seq, spoolPartSuffix))
	f, err := os.OpenFile(part, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	size := int64(0)
	buf := append(make([]byte, 0, 64<<10), header...)
	pending := 0 // records in buf
	flush := func() error {
		n, werr := f.Write(buf)
		if werr != nil {
			// Keep only whole records: cut the file back to what was written before.
			f.Truncate(size)
			return werr
		}
		size += int64(n)
		written += pending
		buf, pending = buf[:0], 0
		return nil
	}
	for i := range b.Caps {
		at := len(buf)
		if buf = AppendRecord(buf, &b.Caps[i]); size+int64(len(buf)) > room {
			buf = buf[:at]
			err = ErrFull
			break
		}
		pending++
		if len(buf) >= 64<<10 {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err == nil || errors.Is(err, ErrFull) {
		if ferr := flush(); ferr != nil {
			err = ferr
		}
	}
	if serr := f.Sync(); serr != nil && err == nil {
		err = serr
	}
	f.Close()
	if written == 0 {
		os.Remove(part)
		return 0, err
	}
	name := spoolName(seq, written)
	if rerr := os.Rename(part, filepath.Join(d.Path, name)); rerr != nil {
		os.Remove(part)
		return 0, rerr
	}
	d.mu.Lock()
	oldest := time.Now()
	if len(b.Caps) > 0 {
		oldest = b.Caps[0].Time
	}
	d.files = append(d.files, File{Name: name, size: size, records: int64(written), known: true, oldest: oldest})
	d.bytes += size
	d.records += int64(written)
	d.mu.Unlock()
	return written, err
}
