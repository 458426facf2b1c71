package search

// Schema says what one search endpoint accepts: which entities and how they may be
// written, which attributes (string or numeric, and their aliases), which operators,
// which attributes may use IN, and which keys may be ordered by. The five endpoints'
// schemas are the package variables; their rules are MLflow's SQL store's.
type Schema struct {
	name            string
	prefixes        map[string]Entity    // entity prefixes before the first dot
	prefixBackticks bool                 // a prefix may be quoted: `metrics`.x
	keyAliases      map[string]string    // aliases MLflow translates in every entity's keys
	rawAttrKeys     bool                 // attribute keys are checked before quotes are removed
	attrs           map[string]attribute // searchable attributes as written, aliases included
	datasetKeys     map[string]bool
	entityOps       map[Entity][]Op // operators for metric, param, tag and dataset keys
	order           orderRules
}

func (s *Schema) String() string { return s.name }

type attribute struct {
	key       string // the canonical key
	numeric   bool
	intOnly   bool // MLflow rejects a float literal
	quotedInt bool // a quoted integer such as '3' is a number too
	list      bool // may be compared with IN and NOT IN
	// opsOverride, when set, are the operators allowed instead of the default ones.
	opsOverride []Op
}

func (a attribute) ops() []Op {
	switch {
	case a.opsOverride != nil:
		return a.opsOverride
	case a.numeric:
		return numericOps
	case a.list:
		return listOps
	}
	return stringOps
}

type orderSyntax int

const (
	orderClause  orderSyntax = iota // "entity.key [ASC|DESC]"
	orderBareKey                    // "key [ASC|DESC]", no entity prefix
	orderField                      // a logged model's field_name: "key" or "metrics.key"
)

type orderRules struct {
	syntax           orderSyntax
	attrs            map[string]string // orderable attributes as written -> canonical key
	entities         []Entity          // the other entities that may be ordered by
	rejectDuplicates bool
}

var (
	numericOps = []Op{Eq, Ne, Gt, Ge, Lt, Le}
	stringOps  = []Op{Eq, Ne, Like, ILike}
	listOps    = []Op{Eq, Ne, Like, ILike, In, NotIn}
)

// registryPrefixes are the only prefixes experiments, registered models and model
// versions accept: not "attributes", not a quoted "`tag`".
var registryPrefixes = map[string]Entity{"attribute": Attribute, "tag": Tag, "tags": Tag}

// Runs is the schema of runs/search (mlflow-api.md §5.1).
var Runs = &Schema{
	name: "runs",
	prefixes: map[string]Entity{
		"metric": Metric, "metrics": Metric,
		"param": Param, "params": Param, "parameter": Param, "parameters": Param,
		"tag": Tag, "tags": Tag,
		"attribute": Attribute, "attributes": Attribute, "attr": Attribute, "run": Attribute,
		"dataset": Dataset, "datasets": Dataset,
	},
	prefixBackticks: true,
	// MLflow translates these for every entity, so tags.created means the tag start_time.
	keyAliases: map[string]string{
		"created": "start_time", "Created": "start_time",
		"run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
	},
	attrs: map[string]attribute{
		"run_id":       {key: "run_id", list: true},
		"run_name":     {key: "run_name"},
		"run name":     {key: "run_name"},
		"Run name":     {key: "run_name"},
		"Run Name":     {key: "run_name"},
		"status":       {key: "status"},
		"user_id":      {key: "user_id"},
		"artifact_uri": {key: "artifact_uri"},
		"start_time":   {key: "start_time", numeric: true},
		"created":      {key: "start_time", numeric: true},
		"Created":      {key: "start_time", numeric: true},
		"end_time":     {key: "end_time", numeric: true},
	},
	datasetKeys: map[string]bool{"name": true, "digest": true, "context": true},
	entityOps:   map[Entity][]Op{Metric: numericOps, Param: stringOps, Tag: stringOps, Dataset: listOps},
	order: orderRules{
		syntax: orderClause,
		attrs: map[string]string{
			"run_id": "run_id", "run_name": "run_name", "status": "status", "user_id": "user_id",
			"artifact_uri": "artifact_uri", "start_time": "start_time", "end_time": "end_time",
			"created": "start_time", "Created": "start_time",
		},
		entities:         []Entity{Metric, Param, Tag},
		rejectDuplicates: true,
	},
}

// Experiments is the schema of experiments/search (mlflow-api.md §5.2).
var Experiments = &Schema{
	name:     "experiments",
	prefixes: registryPrefixes,
	attrs: map[string]attribute{
		"name":             {key: "name"},
		"creation_time":    {key: "creation_time", numeric: true, intOnly: true},
		"last_update_time": {key: "last_update_time", numeric: true, intOnly: true},
	},
	entityOps: map[Entity][]Op{Tag: stringOps},
	order: orderRules{
		syntax: orderClause,
		attrs: map[string]string{
			"name": "name", "experiment_id": "experiment_id",
			"creation_time": "creation_time", "last_update_time": "last_update_time",
		},
	},
}

// RegisteredModels is the schema of registered-models/search (mlflow-api.md §5.3). Both
// "timestamp" and "last_updated_timestamp" order by the last update time.
var RegisteredModels = &Schema{
	name:        "registered models",
	prefixes:    registryPrefixes,
	rawAttrKeys: true,
	attrs:       map[string]attribute{"name": {key: "name", list: true}},
	entityOps:   map[Entity][]Op{Tag: stringOps},
	order: orderRules{
		syntax: orderBareKey,
		attrs: map[string]string{
			"name": "name", "timestamp": "last_updated_timestamp",
			"last_updated_timestamp": "last_updated_timestamp",
		},
		rejectDuplicates: true,
	},
}

// ModelVersions is the schema of model-versions/search (mlflow-api.md §5.4).
var ModelVersions = &Schema{
	name:        "model versions",
	prefixes:    registryPrefixes,
	rawAttrKeys: true,
	attrs: map[string]attribute{
		"name":           {key: "name", list: true},
		"run_id":         {key: "run_id", list: true},
		"source_path":    {key: "source_path"},
		"version_number": {key: "version_number", numeric: true, intOnly: true, quotedInt: true},
	},
	entityOps: map[Entity][]Op{Tag: stringOps},
	order: orderRules{
		syntax: orderClause,
		attrs: map[string]string{
			"name": "name", "version_number": "version_number",
			"creation_timestamp": "creation_timestamp", "last_updated_timestamp": "last_updated_timestamp",
		},
		rejectDuplicates: true,
	},
}

// LoggedModels is the schema of logged-models/search (mlflow-api.md §5.1). Its order_by
// is a list of objects: ParseOrderBy reads their field_name values, and the caller sets
// Desc from "ascending" and applies dataset_name and dataset_digest.
var LoggedModels = &Schema{
	name: "logged models",
	prefixes: map[string]Entity{
		"attributes": Attribute, "metrics": Metric, "params": Param, "tags": Tag,
	},
	attrs: map[string]attribute{
		"name":                   {key: "name", list: true},
		"model_id":               {key: "model_id", list: true},
		"model_type":             {key: "model_type", list: true},
		"status":                 {key: "status", list: true},
		"source_run_id":          {key: "source_run_id", list: true},
		"creation_timestamp":     {key: "creation_timestamp", numeric: true},
		"creation_time":          {key: "creation_timestamp", numeric: true},
		"last_updated_timestamp": {key: "last_updated_timestamp", numeric: true},
		"last_updated_time":      {key: "last_updated_timestamp", numeric: true},
	},
	entityOps: map[Entity][]Op{Metric: numericOps, Param: stringOps, Tag: stringOps},
	order: orderRules{
		syntax: orderField,
		attrs: map[string]string{
			"name": "name", "model_id": "model_id", "model_type": "model_type", "status": "status",
			"source_run_id":      "source_run_id",
			"creation_timestamp": "creation_timestamp", "creation_time": "creation_timestamp",
			"last_updated_timestamp": "last_updated_timestamp", "last_updated_time": "last_updated_timestamp",
		},
		entities: []Entity{Metric},
	},
}
