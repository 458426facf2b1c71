package search

// Metadata names a trace's request metadata in a traces filter (request_metadata.key,
// metadata.key).
const Metadata Entity = "request_metadata"

// Traces is the schema of traces/search, as MLflow's SearchTraceUtils reads it: the
// attributes of a trace's info (aliases resolved: timestamp is timestamp_ms), its tags
// and its request metadata. "name" is the tag mlflow.traceName and "run_id" the run a
// trace belongs to; the store maps both.
var Traces = &Schema{
	name: "traces",
	prefixes: map[string]Entity{
		"attribute": Attribute, "attributes": Attribute, "trace": Attribute,
		"tag": Tag, "tags": Tag,
		"request_metadata": Metadata, "metadata": Metadata,
	},
	prefixBackticks: true,
	attrs: map[string]attribute{
		"request_id":        {key: "request_id", list: true},
		"trace_id":          {key: "request_id", list: true},
		"client_request_id": {key: "client_request_id", list: true},
		"status":            {key: "status", list: true},
		"state":             {key: "status", list: true},
		"name":              {key: "name", list: true},
		"run_id":            {key: "run_id", list: true},
		"timestamp":         {key: "timestamp_ms", numeric: true},
		"timestamp_ms":      {key: "timestamp_ms", numeric: true},
		"execution_time":    {key: "execution_time_ms", numeric: true},
		"execution_time_ms": {key: "execution_time_ms", numeric: true},
		"end_time":          {key: "end_time_ms", numeric: true},
		"end_time_ms":       {key: "end_time_ms", numeric: true},
	},
	entityOps: map[Entity][]Op{Tag: stringOps, Metadata: stringOps},
	order: orderRules{
		syntax: orderClause,
		attrs: map[string]string{
			"experiment_id": "experiment_id", "request_id": "request_id", "trace_id": "request_id",
			"timestamp": "timestamp_ms", "timestamp_ms": "timestamp_ms",
			"execution_time": "execution_time_ms", "execution_time_ms": "execution_time_ms",
			"end_time": "end_time_ms", "end_time_ms": "end_time_ms",
			"status": "status", "state": "status", "name": "name", "run_id": "run_id",
		},
		entities:         []Entity{Tag, Metadata},
		rejectDuplicates: true,
	},
}
