package param

import (
	"github.com/passivedns/passivedns/internal/history"
	"github.com/passivedns/passivedns/internal/record"

	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Parsing of the history API's parameters. Every parser returns a *paramError naming
// the parameter, so a bad request becomes a 400 that says what to fix. Nothing parsed
// here is ever pasted into SQL: query.go binds the values through the driver.

// Error is a client error about one parameter.
type Error struct {
	Param string
	msg   string
}

func (e *Error) Error() string { return e.Param + ": " + e.msg }

func Bad(param, format string, args ...any) error {
	return &Error{Param: param, msg: fmt.Sprintf(format, args...)}
}

// Bounds of the parameters.
const (
	maxNameText   = 1024 // presentation text of a name: 255 wire bytes, \DDD escapes included
	maxRRTypes    = 16   // rrtype filters in one request
	maxIPText     = 100  // an address, prefix or range
	maxCursorText = 2048
)

// ParseName parses a domain name in presentation format, optionally with a leading
// "*." or (if wildcards) a trailing ".*". Letters are lowered and bytes outside
// printable ASCII (UTF-8 names) become \DDD escapes, as names are stored.
func ParseName(param, s string, wildcards bool) (history.NameSpec, error) {
	n, _, err := ParseNameAs(param, s, wildcards)
	return n, err
}

// ParseNameAs is ParseName that also reports whether the input was rewritten (a URL,
// a defanged name, Unicode labels: see Rewrite), so an answer can say what it searched.
func ParseNameAs(param, s string, wildcards bool) (history.NameSpec, bool, error) {
	if len(s) > maxNameText {
		return history.NameSpec{}, false, Bad(param, "longer than %d characters", maxNameText)
	}
	s, rewritten := Rewrite(s)
	n, err := parseName(param, s, wildcards)
	return n, rewritten, err
}

func parseName(param, s string, wildcards bool) (history.NameSpec, error) {
	if s == "" {
		return history.NameSpec{}, Bad(param, "empty name")
	}
	if len(s) > maxNameText {
		return history.NameSpec{}, Bad(param, "longer than %d characters", maxNameText)
	}
	kind := history.NameExact
	switch {
	case strings.HasPrefix(s, "*."):
		kind, s = history.NameSuffix, s[2:]
	case strings.HasSuffix(s, ".*") && !strings.HasSuffix(s, `\.*`):
		kind, s = history.NamePrefix, s[:len(s)-2]
	}
	if kind != history.NameExact && !wildcards {
		return history.NameSpec{}, Bad(param, "wildcards are not allowed here")
	}
	for _, l := range dns.SplitDomainName(s) { // a literal * label is \*
		if l == "*" {
			return history.NameSpec{}, Bad(param, "a wildcard is only allowed as the first label (*.example.org) or the last one (www.example.*)")
		}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return history.NameSpec{}, Bad(param, "control character at offset %d (escape it as \\DDD)", i)
		}
	}
	if s == "" || s == "." && kind != history.NameExact {
		return history.NameSpec{}, Bad(param, "a wildcard needs a domain: everything is not a query")
	}
	if kind == history.NamePrefix && strings.HasSuffix(s, ".") && !strings.HasSuffix(s, `\.`) {
		return history.NameSpec{}, Bad(param, "empty label before the trailing wildcard")
	}
	if _, ok := dns.IsDomainName(s); !ok || strings.HasPrefix(s, ".") && s != "." {
		return history.NameSpec{}, Bad(param, "not a domain name in presentation format")
	}
	// Through wire format and back: the escapes come out exactly as miekg/dns prints
	// stored names (\' \@ \; \( \) \" \  and \DDD for other bytes).
	var wire [512]byte
	off, err := dns.PackDomainName(dns.Fqdn(s), wire[:], 0, nil, false)
	if err != nil {
		return history.NameSpec{}, Bad(param, "not a domain name: %v", err)
	}
	printed, _, err := dns.UnpackDomainName(wire[:off], 0)
	if err != nil {
		return history.NameSpec{}, Bad(param, "not a domain name: %v", err)
	}
	name := record.CanonicalName(printed)
	return history.NameSpec{Kind: kind, Name: name}, nil
}

// ParseIP accepts ADDR, ADDR/LEN, ADDR,LEN (DNSDB) and A-B (a range within one family).
func ParseIP(param, s string) (history.IPSpec, error) {
	if s == "" {
		return history.IPSpec{}, Bad(param, "empty address")
	}
	if len(s) > maxIPText {
		return history.IPSpec{}, Bad(param, "longer than %d characters", maxIPText)
	}
	spec := history.IPSpec{Text: s}
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := netip.ParseAddr(a)
		hi, err2 := netip.ParseAddr(b)
		if err1 != nil || err2 != nil || lo.Zone() != "" || hi.Zone() != "" {
			return history.IPSpec{}, Bad(param, "a range is two addresses of one family, FIRST-LAST")
		}
		if lo.Is4() != hi.Is4() {
			return history.IPSpec{}, Bad(param, "a range cannot mix IPv4 and IPv6")
		}
		if hi.Less(lo) {
			return history.IPSpec{}, Bad(param, "the range ends before it starts")
		}
		spec.Lo, spec.Hi = to16(lo), to16(hi)
		return spec, nil
	}
	addr, bits, hasLen := s, "", false
	if i := strings.IndexAny(s, "/,"); i >= 0 {
		addr, bits, hasLen = s[:i], s[i+1:], true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return history.IPSpec{}, Bad(param, "not an IPv4 or IPv6 address")
	}
	n, err := strconv.Atoi(bits)
	if a.Is4In6() {
		// An IPv4-mapped address: its IPv4 length (0 to 32), or its IPv6 length, of
		// which 96 to 128 is an IPv4 prefix.
		switch {
		case !hasLen || err == nil && n <= 32:
			a = a.Unmap()
		case err == nil && n >= 96 && n <= 128:
			a, n = a.Unmap(), n-96
		}
	}
	if !hasLen {
		spec.Lo, spec.Hi = to16(a), to16(a)
		return spec, nil
	}
	if err != nil || n < 0 || n > a.BitLen() || bits == "" || bits[0] == '+' || bits[0] == '-' {
		return history.IPSpec{}, Bad(param, "prefix length must be 0 to %d", a.BitLen())
	}
	p, err := a.Prefix(n)
	if err != nil {
		return history.IPSpec{}, Bad(param, "%v", err)
	}
	spec.Lo, spec.Hi = to16(p.Addr()), to16(lastAddr(p))
	return spec, nil
}

func to16(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// LooksLikeIP tells apart the two kinds of value /pdns/query and bulk accept.
func LooksLikeIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if i := strings.IndexAny(s, "/,-"); i > 0 {
		if _, err := netip.ParseAddr(s[:i]); err == nil {
			return true
		}
	}
	return false
}

// ParseRRTypes parses rrtype filters: repeated parameters and/or comma-separated lists
// of mnemonics or TYPEnnn. ANY (or nothing) means no filter.
func ParseRRTypes(param string, values []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				return nil, Bad(param, "empty record type")
			}
			name, err := parseRRType(t)
			if err != nil {
				return nil, Bad(param, "%v", err)
			}
			if name == "ANY" {
				return nil, nil
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			if len(out) > maxRRTypes {
				return nil, Bad(param, "more than %d record types", maxRRTypes)
			}
		}
	}
	return out, nil
}

func parseRRType(s string) (string, error) {
	if len(s) > 16 {
		return "", errors.New("not a record type")
	}
	u := strings.ToUpper(s)
	if u == "ANY" {
		return u, nil
	}
	if t, ok := dns.StringToType[u]; ok {
		return record.TypeString(t), nil
	}
	if rest, ok := strings.CutPrefix(u, "TYPE"); ok {
		n, err := strconv.ParseUint(rest, 10, 16)
		if err == nil && rest != "" && rest[0] != '+' {
			return record.TypeString(uint16(n)), nil
		}
	}
	return "", fmt.Errorf("unknown record type %q", s)
}

// Limits of time values: DateTime covers 1970 to 2106.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Unix(1<<32-1, 0).UTC()
)

// ParseTime parses a point in time: epoch seconds, negative seconds relative to now
// (DNSDB), RFC 3339, or (native only) a negative Go duration such as -24h.
func ParseTime(param, s string, now time.Time, native bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, Bad(param, "empty time")
	}
	if len(s) > 40 {
		return time.Time{}, Bad(param, "not a time")
	}
	var t time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			if n < -int64(MaxTime.Unix()) {
				return time.Time{}, Bad(param, "relative time too far back")
			}
			t = now.Add(time.Duration(n) * time.Second)
		} else {
			if n > MaxTime.Unix() {
				return time.Time{}, Bad(param, "after %d", MaxTime.Unix())
			}
			t = time.Unix(n, 0)
		}
	} else if rt, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = rt
	} else if d, err := time.ParseDuration(s); native && err == nil && d <= 0 {
		t = now.Add(d)
	} else if nt, ok := parseNativeForm(s, now); native && ok {
		t = nt
	} else {
		if native {
			return time.Time{}, Bad(param, "not a time: use RFC 3339 (2026-11-03T10:00:00Z, UTC without a zone), a date (2026-12-01), epoch seconds, now, or negative seconds or a duration (-24h, -7d) before now")
		}
		return time.Time{}, Bad(param, "not a time: use epoch seconds, or negative seconds relative to now")
	}
	t = t.UTC()
	if t.Before(MinTime) || t.After(MaxTime) {
		return time.Time{}, Bad(param, "outside 1970 to 2106")
	}
	return t, nil
}

// ParseLimit parses a count between lo and hi; empty gives def.
func ParseLimit(param, s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	if len(s) > 12 || s[0] == '+' {
		return 0, Bad(param, "not a whole number between %d and %d", lo, hi)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, Bad(param, "not a whole number between %d and %d", lo, hi)
	}
	if n < lo || n > hi {
		return 0, Bad(param, "must be between %d and %d", lo, hi)
	}
	return n, nil
}

func ParseBool(param, s string, def bool) (bool, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "true", "t", "1", "yes": // t and f: dnsdbq -g sends aggr=f
		return true, nil
	case "false", "f", "0", "no":
		return false, nil
	}
	return false, Bad(param, "must be true or false")
}

// Cursor is the position after the last result of a page: the sort key of that result,
// tied to the query it belongs to so it cannot be replayed against another one.
type Cursor struct {
	Query uint64   `json:"q"`
	Key   []string `json:"k"`
	// The window of the first page, resolved (relative times move with the clock):
	// later pages keep it. Epoch seconds, 0 for none.
	From int64 `json:"f,omitempty"`
	To   int64 `json:"t,omitempty"`
}

// QueryID fingerprints the parts of a request that decide its results.
func QueryID(parts ...string) uint64 {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor decodes a cursor and checks it belongs to query id and has keyLen keys.
func ParseCursor(param, s string, id uint64, keyLen int) ([]string, error) {
	c, err := DecodeCursor(param, s, id, keyLen)
	return c.Key, err
}

// DecodeCursor is parseCursor returning the whole cursor.
func DecodeCursor(param, s string, id uint64, keyLen int) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > maxCursorText {
		return Cursor{}, Bad(param, "too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, Bad(param, "not a cursor returned by this server")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || len(c.Key) != keyLen {
		return Cursor{}, Bad(param, "not a cursor returned by this server")
	}
	if c.Query != id {
		return Cursor{}, Bad(param, "belongs to another query; repeat the parameters of the request that returned it")
	}
	for _, k := range c.Key {
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				return Cursor{}, Bad(param, "not a cursor returned by this server")
			}
		}
	}
	if c.From < 0 || c.To < 0 || c.From > MaxTime.Unix() || c.To > MaxTime.Unix() {
		return Cursor{}, Bad(param, "not a cursor returned by this server")
	}
	return c, nil
}

// Bounds of sensor filters.
const (
	maxSensors    = 16
	maxSensorText = 255
)

// ParseSensors parses sensor filters: repeated parameters, each one sensor name as the
// Corefile's sensor property gave it (any text but control characters).
func ParseSensors(param string, values []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		if v == "" {
			return nil, Bad(param, "empty sensor name")
		}
		if len(v) > maxSensorText {
			return nil, Bad(param, "longer than %d characters", maxSensorText)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c == 0x7f {
				return nil, Bad(param, "control character at offset %d", i)
			}
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
		if len(out) > maxSensors {
			return nil, Bad(param, "more than %d sensors", maxSensors)
		}
	}
	return out, nil
}

// ParseVia reads the pivot's via: cname, ns and mx, comma-separated or repeated; none
// given is cname alone.
func ParseVia(param string, vals []string) (history.Via, error) {
	if len(vals) == 0 {
		return history.ViaCNAME, nil
	}
	var via history.Via
	for _, v := range vals {
		if len(v) > 64 {
			return 0, Bad(param, "too long: give some of cname, ns, mx, comma-separated")
		}
		for _, f := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(f)) {
			case "cname":
				via |= history.ViaCNAME
			case "ns":
				via |= history.ViaNS
			case "mx":
				via |= history.ViaMX
			default:
				return 0, Bad(param, "%q is not one of cname, ns, mx (comma-separated)", f)
			}
		}
	}
	return via, nil
}

// ParseFormat reads the format of a native list: ndjson (the default) or csv.
func ParseFormat(param, s string) (string, error) {
	switch s {
	case "", "ndjson":
		return "ndjson", nil
	case "csv":
		return "csv", nil
	}
	return "", Bad(param, "must be ndjson (the default) or csv")
}
