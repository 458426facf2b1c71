// Package gate measures a model version on a benchmark and decides whether it
// may be promoted.
//
// It has two halves. The metrics half accumulates predictions batch by batch
// ([Classification], [Regression]) and computes the metrics scikit-learn 1.9
// computes on the same predictions: accuracy, precision, recall, F1, ROC AUC
// and log loss for classifiers; RMSE, MAE, R² and MAPE for regressors;
// overall and, optionally, per slice of a column. The tests hold every metric
// to scikit-learn's value within 1e-9. Metric names are those of MLflow's
// default evaluator, so a result logged as an MLflow run sits beside
// mlflow.evaluate's.
//
// The threshold half ([Gate], [Validate]) compares a candidate's metrics with
// fixed bounds and with a baseline's metrics, with the semantics of MLflow's
// MetricThreshold, and returns a [Verdict] whose every result carries a
// sentence a user can act on. A gate with no thresholds never passes.
//
// docs/gates.md states every definition and rule. The package is a leaf
// library: it knows nothing of the server, the registry or storage.
package gate
