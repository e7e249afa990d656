// Package wiretest holds the rules by which rows were made before the wire walk: miekg/dns
// unpacks the message and prints its text, names lowered. The tests of internal/wire and
// internal/record compare the fast path against them byte for byte.
package wiretest

import (
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// CanonicalName is a name as stored: miekg/dns's presentation format, fully qualified,
// ASCII letters lowered.
func CanonicalName(s string) string {
	return dns.Fqdn(lowerASCII(s))
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// TypeString is a type's mnemonic, or TYPEn.
func TypeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// ClassString is a class's mnemonic, or CLASSn.
func ClassString(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// RcodeString is an rcode's name, BADVERS for 16 as in a message header, or RCODEn.
func RcodeString(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// Rdata is the record data in presentation format, with the domain names in it lowered.
func Rdata(rr dns.RR) string {
	// The most common types directly, as miekg/dns prints them, without printing the
	// header only to cut it off again.
	switch v := rr.(type) {
	case *dns.A:
		if v.A == nil {
			return ""
		}
		return v.A.String()
	case *dns.AAAA:
		if v.AAAA == nil {
			return ""
		}
		if v.AAAA.To4() != nil {
			return "::ffff:" + v.AAAA.String()
		}
		return v.AAAA.String()
	case *dns.CNAME:
		return CanonicalName(v.Target)
	case *dns.NS:
		return CanonicalName(v.Ns)
	case *dns.PTR:
		return CanonicalName(v.Ptr)
	}
	switch v := rr.(type) {
	case *dns.DNAME:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.MX:
		c := *v
		c.Mx = CanonicalName(c.Mx)
		rr = &c
	case *dns.SRV:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.SOA:
		c := *v
		c.Ns, c.Mbox = CanonicalName(c.Ns), CanonicalName(c.Mbox)
		rr = &c
	case *dns.SVCB:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.HTTPS:
		c := *v
		c.Target = CanonicalName(c.Target)
		rr = &c
	case *dns.KX:
		c := *v
		c.Exchanger = CanonicalName(c.Exchanger)
		rr = &c
	case *dns.NAPTR:
		c := *v
		c.Replacement = CanonicalName(c.Replacement)
		rr = &c
	}
	// The text is "owner<TAB>ttl<TAB>class<TAB>type<TAB>data"; names escape tabs, so
	// the data starts after the fourth tab.
	s := rr.String()
	for range 4 {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	return s
}
