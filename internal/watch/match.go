package watch

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/passivedns/passivedns/internal/record"
)

// Watches: name patterns on the owner name, address ranges on A/AAAA data, and name
// patterns on the name a record's data points at (CNAME, NS, MX... targets).

// Kind is what a watch looks at.
type Kind string

const (
	KindName  Kind = "name"
	KindIP    Kind = "ip"
	KindRData Kind = "rdata"
)

// Watch is one watched value.
type Watch struct {
	Kind    Kind
	Pattern string       // name and rdata: canonical glob ("*" is any run of characters)
	Prefix  netip.Prefix // ip
}

func (w Watch) String() string {
	if w.Kind == KindIP {
		return string(w.Kind) + " " + w.Prefix.String()
	}
	return string(w.Kind) + " " + w.Pattern
}

// Parse reads one value of "watch KIND VALUE...": a name pattern such as
// *.example.com or *paypal*, or an address or CIDR.
func Parse(kind, value string) (Watch, error) {
	switch Kind(kind) {
	case KindName, KindRData:
		if value == "" || strings.Trim(value, "*.") == "" {
			return Watch{}, fmt.Errorf("pattern %q matches everything", value)
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c <= ' ' || c >= 0x7f {
				return Watch{}, fmt.Errorf("pattern %q: use the A-label of a Unicode name, without spaces", value)
			}
		}
		p := strings.ToLower(value)
		if !strings.HasSuffix(p, ".") && !strings.HasSuffix(p, "*") {
			p += "."
		}
		return Watch{Kind: Kind(kind), Pattern: p}, nil
	case KindIP:
		if p, err := netip.ParsePrefix(value); err == nil {
			return Watch{Kind: KindIP, Prefix: p.Masked()}, nil
		}
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return Watch{}, fmt.Errorf("%q is not an address or CIDR", value)
		}
		return Watch{Kind: KindIP, Prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	}
	return Watch{}, fmt.Errorf("kind must be name, ip or rdata, not %q", kind)
}

// glob matches s against p, where "*" is any run of characters (dots included).
func glob(p, s string) bool {
	star, back := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && p[i] == '*':
			star, back = i, j
			i++
		case i < len(p) && p[i] == s[j]:
			i++
			j++
		case star >= 0:
			back++
			i, j = star+1, back
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// Tuple is a history tuple as history_by_name keys it.
type Tuple struct {
	RRName, RRType, RData string
}

// target is the name a record's data points at, as history_by_rdata indexes it.
func target(rrtype, rdata string) string {
	switch rrtype {
	case "CNAME", "DNAME", "NS", "PTR":
		return rdata
	case "MX", "KX", "HTTPS", "SVCB":
		if f := strings.Fields(rdata); len(f) >= 2 {
			return f[1]
		}
	case "SRV":
		if f := strings.Fields(rdata); len(f) >= 4 {
			return f[3]
		}
	}
	return ""
}

// match is the first watch the record matches, or -1.
func match(ws []Watch, t Tuple) int {
	var addr netip.Addr
	if t.RRType == "A" || t.RRType == "AAAA" {
		addr, _ = netip.ParseAddr(t.RData)
		addr = addr.Unmap()
	}
	tgt := ""
	for i, w := range ws {
		switch w.Kind {
		case KindName:
			if glob(w.Pattern, t.RRName) {
				return i
			}
		case KindIP:
			if addr.IsValid() && w.Prefix.Contains(addr) {
				return i
			}
		case KindRData:
			if tgt == "" {
				tgt = record.CanonicalName(target(t.RRType, t.RData))
			}
			if tgt != "" && tgt != "." && glob(w.Pattern, tgt) {
				return i
			}
		}
	}
	return -1
}
