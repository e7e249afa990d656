package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// ErrUnreadable marks a spool file that cannot be read at all: gone, not a regular file,
// refused by the filesystem, or holding nothing of a spool file. It is to be set aside.
var ErrUnreadable = errors.New("unreadable spool file")

// transient tells errors that say nothing about the file itself.
func transient(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EINTR)
}

// SetAside takes f, which cannot be read, out of the replay: it is moved into
// QuarantineDir (or, if that fails, left where it is and skipped until the next start),
// or just forgotten if it is gone. One log line says which. It returns the records f
// held, as its name says, for the caller to count as lost.
func (d *Dir) SetAside(f File, why error) int64 {
	d.quarantine(f.Name, why, f.records)
	d.forget(f)
	d.mu.Lock()
	d.setAside++
	d.mu.Unlock()
	return f.records
}

// quarantine moves the entry name into QuarantineDir and logs it, with the records lost
// (-1: unknown).
func (d *Dir) quarantine(name string, why error, records int64) {
	src := filepath.Join(d.Path, name)
	var what string
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		what = "it is gone"
	} else {
		dst, err := d.quarantineName(name)
		if err == nil {
			err = os.Rename(src, dst)
		}
		if err != nil {
			d.mu.Lock()
			d.skip[name] = true
			d.mu.Unlock()
			what = fmt.Sprintf("cannot set it aside (%v), left in place and skipped until restart", err)
		} else {
			what = "moved to " + dst
		}
	}
	lost := "its records are lost" // a .part: nobody knows how many
	if records >= 0 {
		lost = fmt.Sprintf("%d records lost", records)
	}
	d.log.Warningf("Spool file %s cannot be replayed (%v): %s; %s", src, why, what, lost)
}

// quarantineName returns a free name for name in QuarantineDir, creating the folder.
func (d *Dir) quarantineName(name string) (string, error) {
	dir := filepath.Join(d.Path, QuarantineDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			return dst, nil
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
	}
}

// forget drops f from the list, whatever became of it on disk.
func (d *Dir) forget(f File) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.claimed, f.Name)
	n := len(d.files)
	d.files = slices.DeleteFunc(d.files, func(x File) bool { return x.Name == f.Name })
	if len(d.files) < n {
		d.bytes -= f.size
		d.records -= f.records
	}
}
