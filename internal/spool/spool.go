package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/passivedns/passivedns/internal/record"

	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A spool file holds one batch: a header, then records. Each record is framed by a magic
// number, its length and a CRC-32C, so a torn or damaged record is detected, counted and
// skipped, and reading resumes at the next magic number instead of giving up the file.
//
//	header: "PDNSSPL1" | batch id uint64 | flags uint8 (1: an insert may have landed)
//	record: magic uint32 | length uint32 | crc32c(payload) uint32 | payload
//	payload: time int64 ns | elapsed int64 ns | size uint32 | compress uint8 |
//	         client (0 or 16 bytes, after a length byte) | server, transport (uint16 length + bytes) | wire
const (
	HeaderMagic      = "PDNSSPL1"
	spoolRecordMagic = 0x50444e53 // "PDNS"
	HeaderLen        = len(HeaderMagic) + 8 + 1
	FrameLen         = 12
	spoolSuffix      = ".spool"
	spoolPartSuffix  = ".part" // being written; renamed to .spool when complete

	// QuarantineDir, inside the spool directory, holds the files that could not be read,
	// set aside for an operator to look at; nothing in it is replayed or counted in the
	// spool's size.
	QuarantineDir = "quarantine"

	DefaultSize  = 1 << 30
	MaxRecordLen = 1 << 17 // a DNS message is at most 64 KiB; anything longer is damage
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// spoolDir is one spool directory, shared by every writer that names it in this process
// (the old and the new instance during a reload), so that a file is replayed once.
type Dir struct {
	Path    string
	maxSize int64
	lock    *os.File // flock held: one process per directory
	writeMu sync.Mutex

	mu      sync.Mutex
	Files   []File // complete files, oldest first
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

// openSpool returns the process-wide spoolDir for path, opening it on first use.
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
	if n := len(d.Files); n > 0 {
		d.log.Infof("Spool %s holds %d files (%d bytes) from an earlier run; replaying them", d.Path, n, d.bytes)
	}
	return nil
}

// finishPart turns a .part file a dead process left into a spool file and returns its
// new name, or "" if nothing is left to replay. Its count is the records it holds,
// intact or damaged (a torn last record), so that replay counts the damage as lost.
func (d *Dir) finishPart(name string) string {
	path := filepath.Join(d.Path, name)
	r, err := read(path)
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
	d.Files = append(d.Files, f)
	d.bytes += f.size
	d.records += f.records
	d.seq = max(d.seq, seqInName(name)) // a new file never takes the name of one found
}

func (d *Dir) sortFiles() {
	slices.SortFunc(d.Files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
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
	known := make(map[string]bool, len(d.Files))
	for _, f := range d.Files {
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

// Names sort by sequence; they carry the record count so status is right before replay.
func spoolName(seq uint64, records int) string {
	return fmt.Sprintf("%020d-%d%s", seq, records, spoolSuffix)
}

func seqInName(name string) uint64 {
	seq, _, _ := strings.Cut(name, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return n
}

// recordsInName returns the record count a name carries, and false if it carries none.
func recordsInName(name string) (int64, bool) {
	_, rest, ok := strings.Cut(name, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(rest, spoolSuffix), 10, 64)
	return n, err == nil && n >= 0
}

// errSpoolFull and friends say why records were not spooled.
var ErrFull = errors.New("spool full")

// write spools the captures of b. It returns how many records were written; the rest
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
		rec := AppendRecord(nil, &b.Caps[i])
		if size+int64(len(buf)+len(rec)) > room {
			err = ErrFull
			break
		}
		buf = append(buf, rec...)
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
	d.Files = append(d.Files, File{Name: name, size: size, records: int64(written), known: true, oldest: oldest})
	d.bytes += size
	d.records += int64(written)
	d.mu.Unlock()
	return written, err
}

func AppendRecord(dst []byte, c *record.Capture) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, spoolRecordMagic)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // length and crc, filled below
	p := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Time.UnixNano()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Elapsed))
	dst = binary.BigEndian.AppendUint32(dst, c.Size)
	if c.Compress {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	if c.Client.IsValid() {
		a := c.Client.As16()
		dst = append(dst, 16)
		dst = append(dst, a[:]...)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(c.Server)))
	dst = append(dst, c.Server...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(c.Transport)))
	dst = append(dst, c.Transport...)
	dst = append(dst, c.Wire...)
	payload := dst[p:]
	binary.BigEndian.PutUint32(dst[start+4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+8:], crc32.Checksum(payload, crcTable))
	return dst
}

func ParseRecord(p []byte) (record.Capture, error) {
	var c record.Capture
	if len(p) < 8+8+4+1+1 {
		return c, errors.New("short record")
	}
	c.Time = time.Unix(0, int64(binary.BigEndian.Uint64(p)))
	c.Elapsed = time.Duration(binary.BigEndian.Uint64(p[8:]))
	c.Size = binary.BigEndian.Uint32(p[16:])
	c.Compress = p[20] == 1
	p = p[21:]
	switch n := int(p[0]); {
	case n == 16 && len(p) >= 17:
		c.Client = netip.AddrFrom16([16]byte(p[1:17])).Unmap()
		p = p[17:]
	case n == 0:
		p = p[1:]
	default:
		return c, errors.New("bad client field")
	}
	var err error
	if c.Server, p, err = readString(p); err != nil {
		return c, err
	}
	if c.Transport, p, err = readString(p); err != nil {
		return c, err
	}
	c.Wire = p
	return c, nil
}

func readString(p []byte) (string, []byte, error) {
	if len(p) < 2 {
		return "", nil, errors.New("short string")
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, errors.New("short string")
	}
	return string(p[2 : 2+n]), p[2+n:], nil
}

// ErrUnreadable marks a spool file that cannot be read at all: gone, not a regular file,
// refused by the filesystem, or holding nothing of a spool file. It is to be set aside.
var ErrUnreadable = errors.New("unreadable spool file")

// contents is what reading a spool file found.
type contents struct {
	b        *record.Batch
	caps     []record.Capture
	damaged  int  // damaged stretches among the records
	headerOK bool // the header was intact
	size     int
}

// read reads a spool file. It opens without following a link and without blocking (a
// FIFO named like a spool file would otherwise hang the replay for good), and refuses
// anything but a regular file. A file whose header is damaged gets a fresh id and is
// treated as possibly landed.
func read(path string) (contents, error) {
	var r contents
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return r, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return r, err
	}
	if !info.Mode().IsRegular() {
		return r, fmt.Errorf("%s is not a regular file (%s)", path, info.Mode().Type())
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return r, err
	}
	r.b = &record.Batch{ID: record.NewBatchID(), Uncertain: true}
	r.size = len(data)
	rest := data
	if len(data) >= HeaderLen && string(data[:len(HeaderMagic)]) == HeaderMagic {
		r.headerOK = true
		r.b.ID = binary.BigEndian.Uint64(data[len(HeaderMagic):])
		rest = data[HeaderLen:]
	} else {
		rest = resync(data)
		if len(data) >= 4 && binary.BigEndian.Uint32(data) == spoolRecordMagic {
			rest = data
		}
	}
	for len(rest) > 0 {
		if len(rest) < FrameLen || binary.BigEndian.Uint32(rest) != spoolRecordMagic {
			r.damaged++
			rest = resync(rest)
			continue
		}
		n := int(binary.BigEndian.Uint32(rest[4:]))
		sum := binary.BigEndian.Uint32(rest[8:])
		if n > MaxRecordLen || len(rest) < FrameLen+n || crc32.Checksum(rest[FrameLen:FrameLen+n], crcTable) != sum {
			r.damaged++
			rest = resync(rest)
			continue
		}
		c, perr := ParseRecord(rest[FrameLen : FrameLen+n])
		if perr != nil {
			r.damaged++
		} else {
			r.caps = append(r.caps, c)
		}
		rest = rest[FrameLen+n:]
	}
	return r, nil
}

// ReadFile reads a spool file back into a batch, counting damaged stretches (a damaged
// header is one).
func ReadFile(path string) (b *record.Batch, caps []record.Capture, damaged int, err error) {
	r, err := read(path)
	if err != nil {
		return nil, nil, 0, err
	}
	if !r.headerOK {
		r.damaged++
	}
	return r.b, r.caps, r.damaged, nil
}

// Read reads f back for replay. lost is the number of records written to f that did not
// come back intact: its name says how many were written (a name without a count: one
// per damaged stretch, all that can be known). An error wrapping ErrUnreadable means f
// cannot be read at all and is to be set aside (SetAside); any other error is passing
// (too many open files) and worth another try.
func (d *Dir) Read(f File) (b *record.Batch, caps []record.Capture, lost int, err error) {
	r, err := read(filepath.Join(d.Path, f.Name))
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
	n := len(d.Files)
	d.Files = slices.DeleteFunc(d.Files, func(x File) bool { return x.Name == f.Name })
	if len(d.Files) < n {
		d.bytes -= f.size
		d.records -= f.records
	}
}

// resync skips to the next record magic number after the start of p.
func resync(p []byte) []byte {
	var magic [4]byte
	binary.BigEndian.PutUint32(magic[:], spoolRecordMagic)
	if len(p) <= 1 {
		return nil
	}
	i := strings.Index(string(p[1:]), string(magic[:]))
	if i < 0 {
		return nil
	}
	return p[1+i:]
}

// claimOldest hands out the oldest file nobody is replaying.
func (d *Dir) ClaimOldest() (File, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.Files {
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
	s := Stats{Files: len(d.Files), Bytes: d.bytes, Records: d.records, MaxSize: d.maxSize, SetAside: d.setAside}
	if len(d.Files) > 0 {
		s.Oldest = d.Files[0].oldest
	}
	return s
}
