//go:build !linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
)

func availableLandlock() error { return errors.New("Landlock is a Linux feature") }

// Main is `mlship sandbox-exec`, which only Linux has.
func Main(args []string) int {
	fmt.Fprintf(os.Stderr, "mlship %s: the sandbox needs Linux\n", HelperCommand)
	return 126
}
