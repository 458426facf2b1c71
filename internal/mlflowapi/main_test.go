package mlflowapi

import (
	"testing"

	"github.com/mlship/mlship/internal/runtime/sandbox/sandboxtest"
)

// The servers these tests start probe their workers' sandbox through this binary.
func TestMain(m *testing.M) { sandboxtest.Main(m) }
