// Package drift compares two datasets, or two dataset profiles, column by
// column and decides whether the data has drifted, with the statistical tests,
// default test selection and thresholds of Evidently 0.7 (DataDriftPreset).
//
// [Compare] works on data held in memory and is exact: each statistic is the
// one scipy computes on the same values (the tests hold it to 1e-6 against
// scipy and Evidently). [CompareProfiles] works on [dataset.Profile] sketches,
// so a deployment's payload windows can be compared with the training data's
// stored profile without the data itself; it is exact where the sketches are
// (small samples, low-cardinality columns) and approximate elsewhere: see
// docs/drift.md.
//
// Results come as a [Report], which encodes to JSON and renders as a
// self-contained HTML page.
//
// The package is a leaf library: it knows nothing of the server.
package drift
