// Package version holds the version of the mlship build, set at link time with
// -ldflags "-X github.com/mlship/mlship/internal/version.Version=...".
package version

// Version is mlship's version.
var Version = "0.1.0-dev"

// MLflow is the MLflow release whose REST API this build answers (the client the end-to-end
// tests run): what GET /version gives, as MLflow's server gives its own version there. MLflow's
// client reads it to choose features: below 3.4 it keeps a trace's spans to itself and uploads
// them as a file rather than sending them to the server over OpenTelemetry.
const MLflow = "3.17.2"
