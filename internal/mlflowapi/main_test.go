package mlflowapi

import (
	"os"
	"testing"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// TestMain lets the test binary stand in for mlship as the workers' sandbox helper: the
// server probes its sandbox at start by running `<its executable> sandbox-exec`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.HelperCommand {
		os.Exit(sandbox.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
