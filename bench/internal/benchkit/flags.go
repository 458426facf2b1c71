package benchkit

import (
	"fmt"
	"slices"
	"strings"
)

// ParseList splits a comma-separated flag value and returns the names it picks, in
// the order of known.
func ParseList(flagName, value string, known []string) ([]string, error) {
	var picked []string
	for name := range strings.SplitSeq(value, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("--%s: unknown name %q (known: %s)", flagName, name, strings.Join(known, ","))
		}
		picked = append(picked, name)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("--%s: nothing selected", flagName)
	}
	return slices.DeleteFunc(slices.Clone(known), func(n string) bool { return !slices.Contains(picked, n) }), nil
}
