package param

import (
	"testing"
	"time"

	"github.com/passivedns/passivedns/internal/history"
)

func TestParseNameForms(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		kind      history.NameSpec
		rewritten bool
	}{
		{"evil.example", "evil.example.", history.NameSpec{}, false},
		{"evil[.]example", "evil.example.", history.NameSpec{}, true},
		{"evil(.)example[.]net", "evil.example.net.", history.NameSpec{}, true},
		{"evil[dot]example", "evil.example.", history.NameSpec{}, true},
		{"hxxp://evil.example/", "evil.example.", history.NameSpec{}, true},
		{"hxxps://Evil[.]Example:8443/path?q=1#x", "evil.example.", history.NameSpec{}, true},
		{"https://user:pw@evil.example/", "evil.example.", history.NameSpec{}, true},
		{"bücher.example", "xn--bcher-kva.example.", history.NameSpec{}, true},
		{"BÜCHER.example", "xn--bcher-kva.example.", history.NameSpec{}, true},
		{"*.bücher.example", "*.xn--bcher-kva.example.", history.NameSpec{}, true},
		{"xn--bcher-kva.example", "xn--bcher-kva.example.", history.NameSpec{}, false},
		// Not valid IDNA: the bytes stay, escaped as stored.
		{"a\xffb.example", `a\255b.example.`, history.NameSpec{}, false},
		// An escaped name is taken as written.
		{`a\[.]b.example`, `a[.]b.example.`, history.NameSpec{}, false},
	}
	for _, tc := range tests {
		n, rw, err := ParseNameAs("name", tc.in, true)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if n.String() != tc.want || rw != tc.rewritten {
			t.Errorf("%q: %q rewritten %v, want %q %v", tc.in, n.String(), rw, tc.want, tc.rewritten)
		}
	}
	for _, bad := range []string{"hxxp://", "hxxp:///path", "evil[.][.]example"} {
		if n, _, err := ParseNameAs("name", bad, true); err == nil {
			t.Errorf("%q: parsed as %q, want an error", bad, n.String())
		}
	}
}

func TestParseTimeForms(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"NOW", now},
		{"-1d", now.Add(-24 * time.Hour)},
		{"-7d", now.Add(-7 * 24 * time.Hour)},
		{"-2w", now.Add(-14 * 24 * time.Hour)},
		{"-2h", now.Add(-2 * time.Hour)},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12-01T10:00:26", time.Date(2026, 12, 1, 10, 0, 26, 0, time.UTC)},
		{"2026-12-01T10:00:26.900", time.Date(2026, 12, 1, 10, 0, 26, 900e6, time.UTC)},
		{"2026-12-01 10:00:26", time.Date(2026, 12, 1, 10, 0, 26, 0, time.UTC)},
		{"2026-12-01T10:00", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{"2026-12-01T10:00:26.900Z", time.Date(2026, 12, 1, 10, 0, 26, 900e6, time.UTC)},
		{"2026-12-01T11:00:26.900+01:00", time.Date(2026, 12, 1, 10, 0, 26, 900e6, time.UTC)},
	}
	for _, tc := range tests {
		got, err := ParseTime("at", tc.in, now, true)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
		// DNSDB keeps its own forms: epoch and negative seconds, RFC 3339.
		if _, err := ParseTime("t", tc.in, now, false); err == nil && tc.in[0] != '2' {
			t.Errorf("%q: accepted by the DNSDB parser", tc.in)
		}
	}
	for _, bad := range []string{"-1y", "1d", "-d", "+1d", "-9999999d", "2026-13-01", "2026-12-01T25:00", "yesterday", "now-1d"} {
		if got, err := ParseTime("at", bad, now, true); err == nil {
			t.Errorf("%q: parsed as %v, want an error", bad, got)
		}
	}
}

func TestFormatTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 10, 0, 26, 0, time.UTC), "2026-12-01T10:00:26Z"},
		{time.Date(2026, 12, 1, 10, 0, 26, 900e6, time.UTC), "2026-12-01T10:00:26.900Z"},
		{time.Date(2026, 12, 1, 10, 0, 26, 1e6, time.FixedZone("x", 3600)), "2026-12-01T09:00:26.001Z"},
	} {
		if got := FormatTime(tc.in); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
}
