package benchkit

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
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

// NewFlagSet returns the flag set of the benchmark in bench/NAME. Its usage prints
// about, a paragraph on what the benchmark does, and the flags.
func NewFlagSet(name, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/%s [flags]\n\n%s\n\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
	return fs
}

// OutputFlag adds -o, the report's format, to fs.
func OutputFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "o", "table", "output format: table or json (progress always goes to stderr)")
}

// CheckOutput checks the value of -o.
func CheckOutput(output string) error {
	if output != "table" && output != "json" {
		return fmt.Errorf("-o %q: want table or json", output)
	}
	return nil
}

// Parse parses args into fs and refuses arguments that are not flags.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

// AbsPaths makes each non-empty path absolute, as the benchmarks run tools in other
// directories. Abs, not EvalSymlinks: a venv's python is a symlink that must stay
// inside the venv.
func AbsPaths(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}
