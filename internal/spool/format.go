package spool

import (
	"github.com/passivedns/passivedns/internal/record"

	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
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

func ParseRecord(p []byte) (record.Capture, error) { return parseRecord(p, nil) }

// parseRecord is ParseRecord taking the server and transport from last when they are the
// same: a file holds a few distinct ones, and a string per record is garbage.
func parseRecord(p []byte, last *record.Capture) (record.Capture, error) {
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
	var server, transport string
	if last != nil {
		server, transport = last.Server, last.Transport
	}
	if c.Server, p, err = readString(p, server); err != nil {
		return c, err
	}
	if c.Transport, p, err = readString(p, transport); err != nil {
		return c, err
	}
	c.Wire = p
	return c, nil
}

// readAll reads f to its end into buf, grown once to the size the file had (it may have
// grown since: then like io.ReadAll).
func readAll(f *os.File, buf []byte, size int64) ([]byte, error) {
	buf = slices.Grow(buf[:0], int(size)+1)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
	}
}

// readString reads a string, returning same when it has the same bytes.
func readString(p []byte, same string) (string, []byte, error) {
	if len(p) < 2 {
		return "", nil, errors.New("short string")
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, errors.New("short string")
	}
	if string(p[2:2+n]) == same {
		return same, p[2+n:], nil
	}
	return string(p[2 : 2+n]), p[2+n:], nil
}

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
func read(path string, rd *Reader) (contents, error) {
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
	data, err := readAll(f, rd.data[:0], info.Size())
	if err != nil {
		return r, err
	}
	if cap(data) <= maxKeptRead {
		rd.data = data
	}
	if rd.batch == nil {
		rd.batch = new(record.Batch)
	}
	r.b = rd.batch
	r.b.Reset(record.NewBatchID())
	r.b.Uncertain = true
	r.caps = rd.caps[:0]
	defer func() { rd.caps = r.caps[:0] }()
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
		var last *record.Capture
		if k := len(r.caps); k > 0 {
			last = &r.caps[k-1]
		}
		c, perr := parseRecord(rest[FrameLen:FrameLen+n], last)
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
	r, err := read(path, new(Reader))
	if err != nil {
		return nil, nil, 0, err
	}
	if !r.headerOK {
		r.damaged++
	}
	return r.b, r.caps, r.damaged, nil
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
