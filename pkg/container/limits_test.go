package container

import "testing"

func TestParseLimits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"100", 100, true}, {" -1 ", -1, true},
		{"0", 0, false}, {"-2", 0, false}, {"1k", 0, false}, {"many", 0, false},
	} {
		got, err := ParsePidsLimit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePidsLimit(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"-1", -1, true}, {"512m", 512 << 20, true}, {"4g", 4 << 30, true},
		{"4GiB", 4 << 30, true}, {"1073741824", 1 << 30, true},
		{"0", 0, false}, {"1m", 0, false}, {"-2g", 0, false}, {"lots", 0, false},
	} {
		got, err := ParseMemoryLimit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
