package blob

// SetFailpoint lets tests fail a durable write at one of its steps.
func SetFailpoint(l *Local, f func(step string) error) { l.failpoint = f }

// The steps of a durable write, for tests.
const (
	StepWritten = stepWritten
	StepSynced  = stepSynced
	StepRenamed = stepRenamed
)

// PercentDecode exposes one decoding layer of CleanUserPath to tests.
var PercentDecode = percentDecode
