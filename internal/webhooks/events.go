package webhooks

import (
	"encoding/json"
	"slices"
	"strings"
)

// The events MLflow's webhook API names, as "entity.action" (MLflow's WebhookEvent).
// mlship fires the registry's; the prompt events are accepted, as MLflow accepts them,
// and fire when mlship keeps prompts; budget_policy.exceeded belongs to MLflow's AI
// gateway, which mlship does not serve.
var mlflowEvents = []string{
	"registered_model.created",
	"model_version.created",
	"model_version_tag.set",
	"model_version_tag.deleted",
	"model_version_alias.created",
	"model_version_alias.deleted",
	"prompt.created",
	"prompt_version.created",
	"prompt_tag.set",
	"prompt_tag.deleted",
	"prompt_version_tag.set",
	"prompt_version_tag.deleted",
	"prompt_alias.created",
	"prompt_alias.deleted",
	"budget_policy.exceeded",
}

// mlship's own events on the path to production, named in MLflow's entity.action style.
const (
	// GateVerdict: an evaluation of a model version against its benchmark finished
	// with a verdict (passed or not).
	GateVerdict = "gate_verdict.created"
	// ProtectedAliasOverridden: a protected alias moved without the gate's blessing,
	// with a reason.
	ProtectedAliasOverridden = "protected_alias.overridden"
	// DeploymentSwapped: a deployment now serves another model version.
	DeploymentSwapped = "deployment.swapped"
	// DriftDetected: a deployment's live traffic drifted from its reference data.
	DriftDetected = "drift.detected"
)

var mlshipEvents = []string{GateVerdict, ProtectedAliasOverridden, DeploymentSwapped, DriftDetected}

// Events are the events a webhook may subscribe to: MLflow's, then mlship's.
func Events() []string { return slices.Concat(mlflowEvents, mlshipEvents) }

// IsMLflowEvent reports whether e is one of MLflow's events, which its clients can name.
func IsMLflowEvent(e string) bool { return slices.Contains(mlflowEvents, e) }

// ValidEvent reports whether e ("entity.action") is an event a webhook may subscribe to.
func ValidEvent(e string) bool {
	return slices.Contains(mlflowEvents, e) || slices.Contains(mlshipEvents, e)
}

// split returns an event's entity and action.
func split(e string) (entity, action string) {
	entity, action, _ = strings.Cut(e, ".")
	return entity, action
}

// example is the payload a test delivery carries for an event: MLflow's examples for
// its events (mlflow.webhooks.types), and mlship's own.
func example(event string) json.RawMessage {
	return json.RawMessage(examples[event])
}

var examples = map[string]string{
	"registered_model.created":    `{"name": "example_model", "tags": {"example_key": "example_value"}, "description": "An example registered model"}`,
	"model_version.created":       `{"name": "example_model", "version": "1", "source": "models:/123", "run_id": "abcd1234abcd5678", "tags": {"example_key": "example_value"}, "description": "An example model version"}`,
	"model_version_tag.set":       `{"name": "example_model", "version": "1", "key": "example_key", "value": "example_value"}`,
	"model_version_tag.deleted":   `{"name": "example_model", "version": "1", "key": "example_key"}`,
	"model_version_alias.created": `{"name": "example_model", "alias": "example_alias", "version": "1"}`,
	"model_version_alias.deleted": `{"name": "example_model", "alias": "example_alias"}`,
	"prompt.created":              `{"name": "example_prompt", "tags": {"example_key": "example_value"}, "description": "An example prompt"}`,
	"prompt_version.created":      `{"name": "example_prompt", "version": "1", "template": "Hello {{name}}!", "tags": {"example_key": "example_value"}, "description": "An example prompt version"}`,
	"prompt_tag.set":              `{"name": "example_prompt", "key": "example_key", "value": "example_value"}`,
	"prompt_tag.deleted":          `{"name": "example_prompt", "key": "example_key"}`,
	"prompt_version_tag.set":      `{"name": "example_prompt", "version": "1", "key": "example_key", "value": "example_value"}`,
	"prompt_version_tag.deleted":  `{"name": "example_prompt", "version": "1", "key": "example_key"}`,
	"prompt_alias.created":        `{"name": "example_prompt", "alias": "example_alias", "version": "1"}`,
	"prompt_alias.deleted":        `{"name": "example_prompt", "alias": "example_alias"}`,
	"budget_policy.exceeded":      `{"budget_policy_id": "bp-abc123", "budget_unit": "USD", "budget_amount": 100.0, "current_spend": 105.5, "duration_unit": "MONTHS", "duration_value": 1, "target_scope": "ENDPOINT", "workspace": "default", "target_value": "ep-abc123", "window_start": 1704067200000}`,

	GateVerdict:              `{"name": "example_model", "version": "2", "alias": "production", "passed": true, "summary": "accuracy 0.93 >= 0.90", "evaluation_id": 1, "run_id": "abcd1234abcd5678"}`,
	ProtectedAliasOverridden: `{"name": "example_model", "alias": "production", "version": "2", "previous_version": "1", "reason": "hotfix approved by on-call", "actor": "alice"}`,
	DeploymentSwapped:        `{"deployment": "fraud", "role": "primary", "model": "example_model", "version": "2", "previous_version": "1"}`,
	DriftDetected:            `{"deployment": "fraud", "model": "example_model", "version": "2", "reference": "transactions/3", "window_id": 1, "start_ms": 1704067200000, "end_ms": 1704067260000, "rows": 1000, "dataset_drift": true, "drifted_columns": ["amount"]}`,
}
