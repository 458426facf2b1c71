package benchkit

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2GiB", 2 << 30, true}, {"512MiB", 512 << 20, true}, {"64KiB", 64 << 10, true}, {"100B", 100, true},
		{"1048576", 1 << 20, true}, {"0", 0, false}, {"-1GiB", 0, false}, {"2GB", 0, false}, {"", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}
