package schema_test

import (
	"testing"

	"github.com/passivedns/passivedns/internal/schema"
)

func TestDetectFlavor(t *testing.T) {
	tests := []struct {
		version string
		modern  bool
	}{
		{"18.16.1", false},
		{"18.16.1.1", false},
		{"21.12.4.1", false},
		{"22.7.7.22", false},
		{"22.8.1.1", true},
		{"22.8.21.38", true},
		{"22.10.1", true},
		{"23.3.1.2823", true},
		{"26.5.1.1", true},
		{"26.5", true},
		{"100.1", true},
		{"22", false},
		{"v22.8", false},
		{"garbage", false},
		{"", false},
		{"22.x.1", false},
	}
	for _, tc := range tests {
		f := schema.DetectFlavor(tc.version)
		if f.Modern != tc.modern || f.Version != tc.version {
			t.Errorf("DetectFlavor(%q) = %+v, want modern %v", tc.version, f, tc.modern)
		}
	}
}
