// Package dataset reads tabular data and describes it: streaming readers for
// CSV, JSON lines and Parquet, schema inference, and small mergeable
// statistical profiles.
//
// Everything here works in one pass with memory bounded by batch and sketch
// sizes, never by the size of the input: a reader fills a [Batch] of rows in
// column-major form, a [Profiler] folds batches (or columns handed over by a
// caller, such as the serving payload log) into per-column sketches, and a
// [Profile] is the small, JSON-serialisable result. Two profiles merge into
// the profile of the concatenated data.
//
// Column types and kinds follow pandas and Evidently, so that drift computed
// on mlship's profiles selects the same statistical tests Evidently would:
// see [InferKind].
//
// The package is a leaf: it knows nothing of the server, the content store or
// HTTP.
package dataset
