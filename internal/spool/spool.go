package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Dir is one spool directory, shared by every writer that names it in this process
// (the old and the new instance during a reload), so that a file is replayed once.
type Dir struct {
	Path    string
	maxSize int64
	lock    *os.File // flock held: one process per directory
	writeMu sync.Mutex

	mu      sync.Mutex
	files   []File // complete files, oldest first
	claimed map[string]bool
	bytes   int64 // complete and partial files
	records int64 // records in complete files, as written (damage is found only on replay)
	seq     uint64
	refs    int
	log     clog.P
	// skip holds the names of files still on disk that this process gave up on (they
	// could be neither removed nor set aside), so that a rescan does not bring them back.
	skip     map[string]bool
	setAside int
}

// A File is a complete spool file. Its name carries the number of records written to it,
// which is what replay measures the damage against.
type File struct {
	Name    string
	size    int64
	records int64
	known   bool // records is from the name; false for a name without a count
	oldest  time.Time
}

// Records is the number of records written to the file, as its name says.
func (f File) Records() int64 { return f.records }

func newFile(name string, size int64, oldest time.Time) File {
	n, ok := recordsInName(name)
	return File{Name: name, size: size, records: n, known: ok, oldest: oldest}
}

var (
	spoolDirsMu sync.Mutex
	spoolDirs   = map[string]*Dir{}
)

// Open returns the process-wide spoolDir for path, opening it on first use.
func Open(path string, maxSize int64, log clog.P) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	spoolDirsMu.Lock()
	defer spoolDirsMu.Unlock()
	if d, ok := spoolDirs[abs]; ok {
		d.refs++
		d.maxSize = maxSize
		return d, nil
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(abs, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool directory %s is in use by another process: %v", abs, err)
	}
	d := &Dir{Path: abs, maxSize: maxSize, lock: lock, claimed: map[string]bool{}, skip: map[string]bool{}, refs: 1, log: log}
	if err := d.scan(); err != nil {
		lock.Close()
		return nil, err
	}
	spoolDirs[abs] = d
	return d, nil
}

func (d *Dir) Close() {
	spoolDirsMu.Lock()
	defer spoolDirsMu.Unlock()
	d.refs--
	if d.refs > 0 {
		return
	}
	delete(spoolDirs, d.Path)
	d.lock.Close()
}

// scan finds the files a previous run left. A .part file was being written when that
// run died: its complete records are good, a torn last one is found by its checksum. No
// entry can fail the start: one that cannot be read is left for the replay to set aside.
func (d *Dir) scan() error {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, spoolPartSuffix) {
			if name = d.finishPart(name); name == "" {
				continue
			}
		}
		if !strings.HasSuffix(name, spoolSuffix) {
			continue
		}
		d.add(name)
	}
	d.sortFiles()
	if n := len(d.files); n > 0 {
		d.log.Infof("Spool %s holds %d files (%d bytes) from an earlier run; replaying them", d.Path, n, d.bytes)
	}
	return nil
}

// finishPart turns a .part file a dead process left into a spool file and returns its
// new name, or "" if nothing is left to replay. Its count is the records it holds,
// intact or damaged (a torn last record), so that replay counts the damage as lost.
func (d *Dir) finishPart(name string) string {
	path := filepath.Join(d.Path, name)
	r, err := read(path, new(Reader))
	switch {
	case err != nil:
	case len(r.caps) == 0 && r.damaged == 0 && (r.headerOK || r.size == 0):
		os.Remove(path) // created, nothing written yet
		return ""
	case len(r.caps) == 0 && !r.headerOK:
		err = errors.New("no spool header and no intact record")
	}
	if err != nil {
		d.quarantine(name, err, -1)
		return ""
	}
	final := spoolName(seqInName(strings.TrimSuffix(name, spoolPartSuffix)), len(r.caps)+r.damaged)
	if err := os.Rename(path, filepath.Join(d.Path, final)); err != nil {
		d.quarantine(name, err, -1)
		return ""
	}
	return final
}

// add lists a file found on disk. Called with mu held, or before the Dir is shared.
func (d *Dir) add(name string) {
	f := newFile(name, 0, time.Now())
	if info, err := os.Lstat(filepath.Join(d.Path, name)); err == nil { // a link is not followed
		f.size, f.oldest = info.Size(), info.ModTime()
	}
	d.files = append(d.files, f)
	d.bytes += f.size
	d.records += f.records
	d.seq = max(d.seq, seqInName(name)) // a new file never takes the name of one found
}

func (d *Dir) sortFiles() {
	slices.SortFunc(d.files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}

// Rescan lists the spool files that appeared in the directory since it was last read
// (copied in by an operator) and returns how many. Files in progress (.part) are left
// alone: only Open finishes those of a dead process.
func (d *Dir) Rescan() int {
	// Write holds writeMu from the .part to the listing of its file, and a file leaves the
	// list (under mu) only after it left the directory: read under both, the directory
	// and the list agree on every file but the new ones. Otherwise a file being written
	// could be listed twice, or a file just replayed listed again.
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return 0
	}
	known := make(map[string]bool, len(d.files))
	for _, f := range d.files {
		known[f.Name] = true
	}
	n := 0
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, spoolSuffix) && !known[name] && !d.skip[name] {
			d.add(name)
			n++
		}
	}
	if n > 0 {
		d.sortFiles()
		d.log.Infof("Spool %s: %d files appeared in the directory; replaying them", d.Path, n)
	}
	return n
}

type Stats struct {
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Records int64     `json:"records"`
	Oldest  time.Time `json:"oldest,omitzero"`
	MaxSize int64     `json:"max_bytes"`
	// SetAside counts the files this process could not read and moved to QuarantineDir
	// (or skipped).
	SetAside int `json:"set_aside"`
}

func (d *Dir) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Stats{Files: len(d.files), Bytes: d.bytes, Records: d.records, MaxSize: d.maxSize, SetAside: d.setAside}
	if len(d.files) > 0 {
		s.Oldest = d.files[0].oldest
	}
	return s
}
