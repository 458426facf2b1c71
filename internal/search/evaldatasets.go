package search

// EvaluationDatasets is the schema of MLflow 3's datasets/search (evaluation datasets):
// MLflow's SearchEvaluationDatasetsUtils.
var EvaluationDatasets = &Schema{
	name:     "evaluation datasets",
	prefixes: registryPrefixes,
	attrs: map[string]attribute{
		"name":             {key: "name", list: true},
		"created_by":       {key: "created_by"},
		"last_updated_by":  {key: "last_updated_by"},
		"created_time":     {key: "created_time", numeric: true, intOnly: true},
		"last_update_time": {key: "last_update_time", numeric: true, intOnly: true},
	},
	entityOps: map[Entity][]Op{Tag: stringOps},
	order: orderRules{
		syntax: orderBareKey,
		attrs: map[string]string{
			"name": "name", "created_time": "created_time", "last_update_time": "last_update_time",
		},
	},
}
