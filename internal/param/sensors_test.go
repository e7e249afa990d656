package param

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSensors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		bad  bool
	}{
		{nil, nil, false},
		{[]string{"sensor-1"}, []string{"sensor-1"}, false},
		{[]string{"b", "a", "b"}, []string{"b", "a"}, false},
		{[]string{"with space", "ünïcode", "x')--"}, []string{"with space", "ünïcode", "x')--"}, false},
		{[]string{""}, nil, true},
		{[]string{"a\x00b"}, nil, true},
		{[]string{"a\nb"}, nil, true},
		{[]string{"a\x7f"}, nil, true},
		{[]string{strings.Repeat("x", 255)}, []string{strings.Repeat("x", 255)}, false},
		{[]string{strings.Repeat("x", 256)}, nil, true},
		{strings.Split("a b c d e f g h i j k l m n o p q", " "), nil, true},
	} {
		got, err := ParseSensors("sensor", tc.in)
		if (err != nil) != tc.bad || !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, %v", tc.in, got, err)
		}
		if err != nil && err.(*Error).Param != "sensor" {
			t.Errorf("%q: error names %q", tc.in, err.(*Error).Param)
		}
	}
}

// FuzzParseSensors: any input is a *Error or a list of distinct, non-empty names
// without control characters, within the bounds.
func FuzzParseSensors(f *testing.F) {
	for _, s := range []string{"sensor-1", "", "a\x00b", "x')--", strings.Repeat("x", 256), "ünïcode"} {
		f.Add(s, "sensor-2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := ParseSensors("sensor", []string{a, b})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q %q: error of type %T", a, b, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range got {
			if s == "" || len(s) > maxSensorText || seen[s] {
				t.Fatalf("%q %q: %q", a, b, got)
			}
			seen[s] = true
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] == 0x7f {
					t.Fatalf("%q %q: control character in %q", a, b, s)
				}
			}
		}
		if len(got) == 0 || len(got) > 2 {
			t.Fatalf("%q %q: %d sensors", a, b, len(got))
		}
	})
}
