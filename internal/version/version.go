// Package version holds the version of the mlship build, set at link time with
// -ldflags "-X github.com/mlship/mlship/internal/version.Version=...".
package version

// Version is mlship's version.
var Version = "0.1.0-dev"
