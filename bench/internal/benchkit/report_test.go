package benchkit

import "testing"

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMiB(t *testing.T) {
	tests := map[int64]string{0: "0 MiB", 1536 << 10: "2 MiB", 300 << 20: "300 MiB", 1 << 30: "1.00 GiB", 3 << 29: "1.50 GiB"}
	for n, want := range tests {
		if got := MiB(n); got != want {
			t.Errorf("MiB(%d) = %q, want %q", n, got, want)
		}
	}
}
