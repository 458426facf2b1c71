package benchkit

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a flag.Value holding a size such as 2GiB, 512MiB or 1048576.
type ByteSize struct{ N *int64 }

func (b ByteSize) String() string {
	if b.N == nil {
		return ""
	}
	return FormatSize(*b.N)
}

func (b ByteSize) Set(s string) error {
	n, err := ParseSize(s)
	if err == nil {
		*b.N = n
	}
	return err
}

// ParseSize reads a positive size in B, KiB, MiB or GiB (a bare number is bytes).
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || v <= 0 || v > (1<<62)/u.mult {
				return 0, fmt.Errorf("want a positive size such as 16MiB, got %q", s)
			}
			return v * u.mult, nil
		}
	}
	return 0, fmt.Errorf("bad size %q", s)
}

// FormatSize writes n in the largest unit that divides it.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
