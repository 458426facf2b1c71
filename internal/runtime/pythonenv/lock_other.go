//go:build !unix

package pythonenv

import "context"

// lock does nothing where there is no flock: builds of one environment in two
// processes at once each build it, and the second rename fails.
func lock(context.Context, string) (func(), error) { return func() {}, nil }
