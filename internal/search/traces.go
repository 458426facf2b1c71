package search

import (
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// Metadata names a trace's request metadata in a traces filter (request_metadata.key,
// metadata.key).
const Metadata Entity = "request_metadata"

// The entities of a traces filter beyond tags and metadata. A span comparison holds for a
// trace when one of its spans matches (all the span comparisons of a filter, the same
// span); a feedback or expectation comparison when one of its valid assessments of that
// kind, by that name, does.
const (
	Span        Entity = "span"        // span.name, span.type, span.status, span.attributes.KEY, span.content
	Feedback    Entity = "feedback"    // feedback.NAME: the value of the feedback named NAME
	Expectation Entity = "expectation" // expectation.NAME
	Issue       Entity = "issue"       // issue.id: the trace is tied to the issue of that id
)

// The span keys a traces filter may compare, besides attributes.KEY.
var spanKeys = map[string]bool{"name": true, "type": true, "status": true, "content": true}

// SpanAttributePrefix starts the key of a comparison with a span attribute.
const SpanAttributePrefix = "attributes."

var (
	traceStringOps = []Op{Eq, Ne, Like, ILike, RLike}
	traceListOps   = []Op{Eq, Ne, Like, ILike, RLike, In, NotIn}
	traceNamedOps  = []Op{Eq, Ne, Like, ILike, RLike, In, NotIn, IsNull, IsNotNull}
	traceKeyOps    = []Op{Eq, Ne, Like, ILike, RLike, IsNull, IsNotNull}
	assessmentOps  = []Op{Eq, Ne, Gt, Ge, Lt, Le, Like, ILike, RLike, IsNull, IsNotNull}
	spanContentOps = []Op{Like, ILike}
)

// checkEntityKey refuses the keys MLflow refuses for span and assessment comparisons.
func checkEntityKey(e Entity, key string) error {
	switch {
	case e == Span && key == SpanAttributePrefix:
		return fault.Invalidf("Span attribute name cannot be empty after 'attributes.'")
	case e == Span && !spanKeys[key] && !strings.HasPrefix(key, SpanAttributePrefix):
		return fault.Invalidf("Invalid span attribute '%s'. Supported attributes: name, status, type, attributes.<attribute_name>.", clip(key))
	case (e == Feedback || e == Expectation) && key == "":
		return fault.Invalidf("Assessment field name cannot be empty")
	case e == Issue && key != "id":
		return fault.Invalidf("Invalid issue attribute '%s'. Supported attributes: id", clip(key))
	}
	return nil
}

// entityKeyOps are the operators allowed on key of e under s.
func (s *Schema) entityKeyOps(e Entity, key string) []Op {
	if e == Span && key == "content" {
		return spanContentOps
	}
	return s.entityOps[e]
}

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
		"span": Span, "feedback": Feedback, "expectation": Expectation, "issue": Issue,
	},
	prefixBackticks: true,
	attrs: map[string]attribute{
		"request_id":        {key: "request_id", list: true, opsOverride: traceListOps},
		"trace_id":          {key: "request_id", list: true, opsOverride: traceListOps},
		"client_request_id": {key: "client_request_id", list: true, opsOverride: traceListOps},
		"status":            {key: "status", list: true, opsOverride: traceListOps},
		"state":             {key: "status", list: true, opsOverride: traceListOps},
		// name and run_id are a tag and request metadata in MLflow, so they may also be
		// tested for presence.
		"name":   {key: "name", list: true, opsOverride: traceNamedOps},
		"run_id": {key: "run_id", list: true, opsOverride: traceNamedOps},
		// prompt = 'name/version': the trace used that prompt version (its linked prompts).
		"prompt": {key: "prompt", opsOverride: []Op{Eq}},
		// text: full-text search of the spans' content (span.content).
		"text":              {key: "text", opsOverride: spanContentOps},
		"timestamp":         {key: "timestamp_ms", numeric: true},
		"timestamp_ms":      {key: "timestamp_ms", numeric: true},
		"execution_time":    {key: "execution_time_ms", numeric: true},
		"execution_time_ms": {key: "execution_time_ms", numeric: true},
		"end_time":          {key: "end_time_ms", numeric: true},
		"end_time_ms":       {key: "end_time_ms", numeric: true},
	},
	entityOps: map[Entity][]Op{
		Tag: traceKeyOps, Metadata: traceKeyOps, Span: traceListOps,
		Feedback: assessmentOps, Expectation: assessmentOps, Issue: {Eq},
	},
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
