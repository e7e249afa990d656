package spool

import (
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/passivedns/passivedns/internal/record"

	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
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
	files   []File // complete files, oldest first
	claimed map[string]bool
	bytes   int64 // complete and partial files
	records int64 // records in complete files, as written (damage is found only on replay)
	seq     uint64
	refs    int
	log     clog.P
}

type File struct {
	Name    string
	size    int64
	records int64
	oldest  time.Time
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
	d := &Dir{Path: abs, maxSize: maxSize, lock: lock, claimed: map[string]bool{}, refs: 1, log: log}
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
// run died: its complete records are good, a torn last one is found by its checksum.
func (d *Dir) scan() error {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, spoolPartSuffix) {
			// Count what it holds so the status is right; damage is counted at replay.
			_, caps, _, err := ReadFile(filepath.Join(d.Path, name))
			if err != nil {
				return err
			}
			final := spoolName(seqInName(strings.TrimSuffix(name, spoolPartSuffix)), len(caps))
			if err := os.Rename(filepath.Join(d.Path, name), filepath.Join(d.Path, final)); err != nil {
				return err
			}
			name = final
		}
		if !strings.HasSuffix(name, spoolSuffix) {
			continue
		}
		info, err := os.Stat(filepath.Join(d.Path, name))
		if err != nil {
			return err
		}
		// The record count is an estimate until the file is read; the name holds it.
		d.files = append(d.files, File{Name: name, size: info.Size(), records: recordsInName(name), oldest: info.ModTime()})
		d.bytes += info.Size()
		d.records += recordsInName(name)
	}
	slices.SortFunc(d.files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	if n := len(d.files); n > 0 {
		d.seq = seqInName(d.files[n-1].Name)
		d.log.Infof("Spool %s holds %d files (%d bytes) from an earlier run; replaying them", d.Path, n, d.bytes)
	}
	return nil
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

func recordsInName(name string) int64 {
	_, rest, _ := strings.Cut(name, "-")
	n, _ := strconv.ParseInt(strings.TrimSuffix(rest, spoolSuffix), 10, 64)
	return n
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
	d.files = append(d.files, File{Name: name, size: size, records: int64(written), oldest: oldest})
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

// readSpoolFile reads a spool file back into a batch, counting damaged records. A file
// whose header is damaged gets a fresh id and is treated as possibly landed.
func ReadFile(path string) (b *record.Batch, caps []record.Capture, damaged int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, 0, err
	}
	b = &record.Batch{ID: record.NewBatchID(), Uncertain: true}
	rest := data
	if len(data) >= HeaderLen && string(data[:len(HeaderMagic)]) == HeaderMagic {
		b.ID = binary.BigEndian.Uint64(data[len(HeaderMagic):])
		rest = data[HeaderLen:]
	} else {
		damaged++
		rest = resync(data)
		if len(data) >= 4 && binary.BigEndian.Uint32(data) == spoolRecordMagic {
			rest = data
		}
	}
	for len(rest) > 0 {
		if len(rest) < FrameLen || binary.BigEndian.Uint32(rest) != spoolRecordMagic {
			damaged++
			rest = resync(rest)
			continue
		}
		n := int(binary.BigEndian.Uint32(rest[4:]))
		sum := binary.BigEndian.Uint32(rest[8:])
		if n > MaxRecordLen || len(rest) < FrameLen+n || crc32.Checksum(rest[FrameLen:FrameLen+n], crcTable) != sum {
			damaged++
			rest = resync(rest)
			continue
		}
		c, perr := ParseRecord(rest[FrameLen : FrameLen+n])
		if perr != nil {
			damaged++
		} else {
			caps = append(caps, c)
		}
		rest = rest[FrameLen+n:]
	}
	return b, caps, damaged, nil
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

// remove deletes a file whose rows ClickHouse acknowledged.
func (d *Dir) Remove(f File) error {
	err := os.Remove(filepath.Join(d.Path, f.Name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		d.Release(f)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.claimed, f.Name)
	d.files = slices.DeleteFunc(d.files, func(x File) bool { return x.Name == f.Name })
	d.bytes -= f.size
	d.records -= f.records
	return nil
}

type Stats struct {
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Records int64     `json:"records"`
	Oldest  time.Time `json:"oldest,omitzero"`
	MaxSize int64     `json:"max_bytes"`
}

func (d *Dir) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Stats{Files: len(d.files), Bytes: d.bytes, Records: d.records, MaxSize: d.maxSize}
	if len(d.files) > 0 {
		s.Oldest = d.files[0].oldest
	}
	return s
}
