package runtime

import "context"

type progressKey struct{}

// WithProgress returns a context whose loads report the stage they reach (building
// the model's environment, starting its workers) to report.
func WithProgress(ctx context.Context, report func(stage string)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// Progress reports that the load running under ctx reached stage; it does nothing
// when no one listens.
func Progress(ctx context.Context, stage string) {
	if report, ok := ctx.Value(progressKey{}).(func(string)); ok {
		report(stage)
	}
}
