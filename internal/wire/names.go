package wire

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The stored names of types, classes and rcodes. Known values come from miekg/dns's
// tables (so the names follow the library); unknown values get the RFC 3597 form
// TYPEnnn/CLASSnnn, made once and kept so that a flood of odd values costs no
// allocation per record.

var (
	// Dense tables for the low values, where nearly all assigned ones are; the few
	// high ones (TA, DLV, NONE, ANY, ...) start the unknown caches. Small, so the
	// garbage collector has little to scan.
	typeNames  [512]string
	classNames [256]string
	rcodeNames [0x1000]string // an rcode is 12 bits with the OPT extension
)

func init() {
	highTypes := map[uint16]string{}
	for t, s := range dns.TypeToString {
		if int(t) < len(typeNames) {
			typeNames[t] = s
		} else {
			highTypes[t] = s
		}
	}
	unknownTypes.m.Store(&highTypes)
	highClasses := map[uint16]string{}
	for c, s := range dns.ClassToString {
		if int(c) < len(classNames) {
			classNames[c] = s
		} else {
			highClasses[c] = s
		}
	}
	unknownClasses.m.Store(&highClasses)
	for rc, s := range dns.RcodeToString {
		if rc >= 0 && rc < len(rcodeNames) {
			rcodeNames[rc] = s
		}
	}
	// In a message header 16 is BADVERS; miekg/dns names it BADSIG (TSIG).
	rcodeNames[dns.RcodeBadVers] = "BADVERS"
	for rc := range rcodeNames {
		if rcodeNames[rc] == "" {
			rcodeNames[rc] = "RCODE" + strconv.Itoa(rc)
		}
	}
}

// unknown caches the generic names: a copy-on-write map, read without a lock.
type unknown struct {
	prefix string
	mu     sync.Mutex
	m      atomic.Pointer[map[uint16]string]
}

// maxUnknown bounds the cache; beyond it a name is made per call.
const maxUnknown = 4096

func (u *unknown) name(v uint16) string {
	if m := u.m.Load(); m != nil {
		if s, ok := (*m)[v]; ok {
			return s
		}
	}
	s := u.prefix + strconv.Itoa(int(v))
	u.mu.Lock()
	defer u.mu.Unlock()
	old := u.m.Load()
	if old != nil {
		if s, ok := (*old)[v]; ok {
			return s
		}
	}
	if old != nil && len(*old) >= maxUnknown {
		return s
	}
	m := make(map[uint16]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[v] = s
	u.m.Store(&m)
	return s
}

func lenOf(m *map[uint16]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

var unknownTypes = unknown{prefix: "TYPE"}
var unknownClasses = unknown{prefix: "CLASS"}

// TypeName is the stored name of an RR type: miekg/dns's mnemonic or TYPEnnn.
func TypeName(t uint16) string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return unknownTypes.name(t)
}

// ClassName is the stored name of a class: miekg/dns's mnemonic or CLASSnnn.
func ClassName(c uint16) string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return unknownClasses.name(c)
}

// RcodeName is the stored name of a (possibly extended) rcode: miekg/dns's mnemonic,
// BADVERS for 16, or RCODEnnn.
func RcodeName(rc int) string {
	if rc >= 0 && rc < len(rcodeNames) {
		return rcodeNames[rc]
	}
	return "RCODE" + strconv.Itoa(rc)
}
