package fault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// An independent reader of spool files (spool.go documents the format), so that the
// tests know which records a spool holds without trusting the plugin's reader:
//
//	header: "PDNSSPL1" | batch id uint64 | flags uint8
//	record: magic uint32 "PDNS" | length uint32 | crc32c(payload) uint32 | payload
//	payload: time int64 | elapsed int64 | size uint32 | compress uint8 |
//	         client (length byte, 0 or 16 bytes) | server, transport (uint16 length + bytes) | wire
const (
	spoolHeader    = "PDNSSPL1"
	spoolHeaderLen = len(spoolHeader) + 8 + 1
	recordMagic    = "PDNS"
	frameLen       = 12
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spoolRecord is one record of a spool file: where its frame starts, the length of its
// payload, and the question name of the answer it holds.
type spoolRecord struct {
	off, payloadLen int
	qname           string
}

// readSpool returns the intact records of a spool file, and the number of damaged
// stretches (a frame that does not check out, up to the next record magic).
func readSpool(path string) (recs []spoolRecord, damaged int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < spoolHeaderLen || string(data[:len(spoolHeader)]) != spoolHeader {
		return nil, 0, errors.New(path + ": no spool header")
	}
	off := spoolHeaderLen
	for off < len(data) {
		rest := data[off:]
		ok := len(rest) >= frameLen && string(rest[:4]) == recordMagic
		var n int
		if ok {
			n = int(binary.BigEndian.Uint32(rest[4:]))
			ok = len(rest) >= frameLen+n && crc32.Checksum(rest[frameLen:frameLen+n], castagnoli) == binary.BigEndian.Uint32(rest[8:])
		}
		var qname string
		if ok {
			qname, ok = recordQname(rest[frameLen : frameLen+n])
		}
		if !ok {
			damaged++
			i := bytes.Index(rest[1:], []byte(recordMagic))
			if i < 0 {
				break
			}
			off += 1 + i
			continue
		}
		recs = append(recs, spoolRecord{off: off, payloadLen: n, qname: qname})
		off += frameLen + n
	}
	return recs, damaged, nil
}

// recordQname returns the lowered question name of the DNS message at the end of a
// record payload.
func recordQname(p []byte) (string, bool) {
	if len(p) < 22 {
		return "", false
	}
	p = p[21:]
	switch p[0] {
	case 0:
		p = p[1:]
	case 16:
		if len(p) < 17 {
			return "", false
		}
		p = p[17:]
	default:
		return "", false
	}
	for range 2 { // server, transport
		if len(p) < 2 || len(p) < 2+int(binary.BigEndian.Uint16(p)) {
			return "", false
		}
		p = p[2+int(binary.BigEndian.Uint16(p)):]
	}
	m := new(dns.Msg)
	if err := m.Unpack(p); err != nil || len(m.Question) != 1 {
		return "", false
	}
	return strings.ToLower(m.Question[0].Name), true
}
