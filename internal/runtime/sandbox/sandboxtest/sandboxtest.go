// Package sandboxtest lets a test binary stand in for mlship as the workers' sandbox
// helper: a server or runtime under test runs `<its executable> sandbox-exec ...` to
// start a worker, and to probe the sandbox when it starts.
package sandboxtest

import (
	"os"
	"testing"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// Main is a TestMain for packages whose tests start workers or servers: run as the
// helper, it does what `mlship sandbox-exec` does; otherwise it runs the tests.
func Main(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.HelperCommand {
		os.Exit(sandbox.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
