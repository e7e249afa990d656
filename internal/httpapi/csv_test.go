package httpapi

import (
	"bytes"
	"testing"
)

// CSVCases are cells with what the CSV answers (and the page's csvCell) make of them:
// formulas defused, RFC 4180 quoting, and encoding/csv's own rules with CRLF (a cell
// starting with a space is quoted; a CR inside quotes is dropped and LF becomes CRLF).
var CSVCases = []struct{ Cell, Line string }{
	{"", "\r\n"},
	{"www.example.org.", "www.example.org.\r\n"},
	{"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0\r\n"},
	{"+1", "'+1\r\n"},
	{"-2+3", "'-2+3\r\n"},
	{"@SUM(A1)", "'@SUM(A1)\r\n"},
	{"\tx", "'\tx\r\n"},
	{"\rx", "\"'x\"\r\n"},
	{"a=b", "a=b\r\n"},
	{`"v=spf1 mx -all"`, `"""v=spf1 mx -all"""` + "\r\n"},
	{"a,b", "\"a,b\"\r\n"},
	{"a\nb", "\"a\r\nb\"\r\n"},
	{"a\r\nb", "\"a\r\nb\"\r\n"},
	{" lead", "\" lead\"\r\n"},
	{"\u00a0nbsp", "\"\u00a0nbsp\"\r\n"},
	{`\.`, "\"\\.\"\r\n"},
	{"10 mail.example.org.", "10 mail.example.org.\r\n"},
	{"b\\195\\188cher.example.", "b\\195\\188cher.example.\r\n"},
	{"ünïcode", "ünïcode\r\n"},
}

func TestCSVCell(t *testing.T) {
	for _, tc := range CSVCases {
		var b bytes.Buffer
		w := NewCSV(&b)
		if err := w.Write([]string{tc.Cell}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.Line {
			t.Errorf("cell %q: %q, want %q", tc.Cell, b.String(), tc.Line)
		}
	}
}

func TestCSVFileName(t *testing.T) {
	for _, tc := range []struct{ mode, value, want string }{
		{"name", "www.example.org", "passivedns-name-www.example.org.csv"},
		{"name", "*.example.org", "passivedns-name-_.example.org.csv"},
		{"ip", "192.0.2.0/24", "passivedns-ip-192.0.2.0_24.csv"},
		{"ip", "2001:db8::1", "passivedns-ip-2001_db8_1.csv"},
		{"negative", `a"b\c;d`, "passivedns-negative-a_b_c_d.csv"},
	} {
		if got := csvFileName(tc.mode, tc.value); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.mode, tc.value, got, tc.want)
		}
	}
}
