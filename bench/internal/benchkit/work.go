package benchkit

import (
	"fmt"
	"log"
	"os"
)

// Tool is a file a benchmark runs, and what makes it when it is missing.
type Tool struct {
	Path string
	Hint string // such as "bash bench/setup.sh drift"
}

// CheckTools fails when a tool is missing, naming what makes it: a benchmark calls it
// before it writes gigabytes or starts a server.
func CheckTools(tools ...Tool) error {
	for _, t := range tools {
		if _, err := os.Stat(t.Path); err != nil {
			return fmt.Errorf("%s is missing (%s)", t.Path, t.Hint)
		}
	}
	return nil
}

// WorkDir creates a run's temporary directory in parent ($TMPDIR or /tmp when empty),
// named after the benchmark. remove, deferred, deletes it at the end, or with keep
// logs where it was kept.
func WorkDir(parent, bench string, keep bool, logger *log.Logger) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp(parent, "mlship-bench-"+bench+"-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { removeWork(dir, keep, logger) }, nil
}

func removeWork(dir string, keep bool, logger *log.Logger) {
	if keep {
		logger.Printf("kept the files in %s", dir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		logger.Printf("remove %s: %v", dir, err)
	}
}
