package param

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Forms analysts paste: names defanged in threat reports, URLs, IDN U-labels, dates and
// relative times. Each is turned into the canonical form before the usual checks.

// defangs are the replacements for a dot in defanged names.
var defangs = []string{"[.]", "(.)", "{.}", "[dot]", "(dot)", "[DOT]", "(DOT)"}

// schemes are URL schemes, defanged or not, whose host is the name.
var schemes = []string{"hxxp://", "hxxps://", "http://", "https://", "hXXp://", "hXXps://", "fxp://", "ftp://"}

// Rewrite turns a pasted name into presentation text: a URL gives its host, defanged
// dots become dots, and labels in Unicode become their A-labels (IDNA 2008, lookup
// profile). It reports whether anything changed. A label that is not valid IDNA keeps
// its bytes, which ParseName escapes as \DDD, as names are stored.
func Rewrite(s string) (string, bool) {
	orig := s
	lower := strings.ToLower(s)
	for _, p := range schemes {
		if strings.HasPrefix(lower, strings.ToLower(p)) {
			s = s[len(p):]
			if i := strings.IndexAny(s, "/?#"); i >= 0 {
				s = s[:i]
			}
			if i := strings.LastIndexByte(s, '@'); i >= 0 {
				s = s[i+1:] // user:password@host
			}
			if i := strings.LastIndexByte(s, ':'); i >= 0 && isDigits(s[i+1:]) {
				s = s[:i] // host:port
			}
			break
		}
	}
	for _, d := range defangs {
		if strings.Contains(s, d) && !strings.Contains(s, `\`) {
			s = strings.ReplaceAll(s, d, ".")
		}
	}
	if hasNonASCII(s) && !strings.Contains(s, `\`) {
		labels := strings.Split(s, ".")
		for i, l := range labels {
			if !hasNonASCII(l) || !utf8.ValidString(l) {
				continue
			}
			if a, err := idna.Lookup.ToASCII(l); err == nil && a != "" && !strings.Contains(a, ".") {
				labels[i] = a
			}
		}
		s = strings.Join(labels, ".")
	}
	return s, s != orig
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// relDays is a relative time in days or weeks: -1d, -7d, -2w.
var relDays = regexp.MustCompile(`^-([0-9]{1,6})([dw])$`)

// zoneless layouts are UTC; a date alone is its midnight, UTC.
var zoneless = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}

// parseNativeForm reads the time forms only the native API accepts: now, -1d / -2w,
// dates and RFC 3339 without a zone. ok is false when s is none of them.
func parseNativeForm(s string, now time.Time) (time.Time, bool) {
	if strings.EqualFold(s, "now") {
		return now, true
	}
	if m := relDays.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		return now.Add(-time.Duration(n) * unit), true
	}
	for _, l := range zoneless {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// FormatTime prints a time of an answer in RFC 3339, UTC, with milliseconds only when
// it has any, so whole-second times read as they always did.
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Millisecond) == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}
