package mlflowapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/search/sqlsearch"
)

// objectRule is what a route needs on the object it touches: where the object's
// reference is in the request, and the level. Every MLflow route has one (see
// objectRules); a route without is open to administrators only, so that a route added
// without thinking of permissions is closed, not open.
type objectRule struct {
	of    resolver
	level auth.Level
}

// resolver finds the objects a request touches from its fields.
type resolver func(a *API, r *http.Request, f *objectFields) ([]objectRef, error)

type objectRef struct {
	kind  auth.ObjectKind
	id    string
	level auth.Level // what this object needs, when not the rule's level
}

// objectFields are the request fields that name objects, as MLflow's messages spell them.
type objectFields struct {
	ExperimentID  idString `json:"experiment_id"`
	ExperimentIDs idList   `json:"experiment_ids"`
	RunID         idString `json:"run_id"`
	RunUUID       idString `json:"run_uuid"`
	RunIDs        idList   `json:"run_ids"`
	Name          string   `json:"name"`
	ModelID       idString `json:"model_id"`
	Source        string   `json:"source"`
	TraceID       idString `json:"trace_id"`
	TraceIDs      idList   `json:"trace_ids"`
	RequestID     idString `json:"request_id"`
	RequestIDs    idList   `json:"request_ids"`
	Trace         *struct {
		TraceInfo *struct {
			TraceLocation traceLocation `json:"trace_location"`
		} `json:"trace_info"`
	} `json:"trace"`
}

// Resolvers. noObject marks the routes that touch no single object: creations (the
// creator is granted MANAGE) and searches (filtered by what the caller may read).
var (
	noObject resolver // nil: nothing to peek at

	byExperiment resolver = func(_ *API, _ *http.Request, f *objectFields) ([]objectRef, error) {
		return []objectRef{{kind: auth.Experiment, id: string(f.ExperimentID)}}, nil
	}
	byExperimentName resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		name := r.URL.Query().Get("experiment_name")
		e, err := a.tracking.GetExperimentByName(r.Context(), name)
		if err != nil || name == "" {
			return nil, nil // the handler answers a missing experiment as MLflow does
		}
		return []objectRef{{kind: auth.Experiment, id: e.ExperimentID}}, nil
	}
	byRun resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		ids := f.RunIDs.strings()
		if id := cmpOr(string(f.RunID), string(f.RunUUID)); id != "" {
			ids = append(ids, id)
		}
		return a.experimentsOfRuns(r.Context(), ids)
	}
	byLoggedModel resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		id := cmpOr(r.PathValue("model_id"), string(f.ModelID))
		exp, err := a.tracking.ExperimentOfLoggedModel(r.Context(), id)
		if err != nil {
			return nil, err
		}
		return []objectRef{{kind: auth.Experiment, id: exp}}, nil
	}
	// byRunOrLoggedModel: the request names one or the other.
	byRunOrLoggedModel resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		if f.ModelID != "" {
			return byLoggedModel(a, r, f)
		}
		return byRun(a, r, f)
	}
	byModel resolver = func(_ *API, _ *http.Request, f *objectFields) ([]objectRef, error) {
		return []objectRef{{kind: auth.RegisteredModel, id: f.Name}}, nil
	}
	// byTrace is the experiments of the traces the path or the fields name.
	byTrace resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		return a.experimentsOfTraces(r, f)
	}
	// byTraceAndRun: linking traces to a run changes both.
	byTraceAndRun resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		refs, err := a.experimentsOfTraces(r, f)
		if err != nil || f.RunID == "" {
			return refs, err
		}
		runs, err := a.experimentsOfRuns(r.Context(), []string{string(f.RunID)})
		return append(refs, runs...), err
	}
	// byTraceLocation is the experiment a new trace goes to, and the one it is in if it
	// exists (the domain refuses a move).
	byTraceLocation resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		if f.Trace == nil || f.Trace.TraceInfo == nil {
			return []objectRef{{kind: auth.Experiment, id: string(f.ExperimentID)}}, nil // MLflow 2's StartTrace
		}
		return []objectRef{{kind: auth.Experiment, id: f.Trace.TraceInfo.TraceLocation.experimentID()}}, nil
	}
	// byExperimentHeader: OpenTelemetry names its experiment and run in headers.
	byExperimentHeader resolver = func(a *API, r *http.Request, _ *objectFields) ([]objectRef, error) {
		refs := []objectRef{{kind: auth.Experiment, id: r.Header.Get(experimentHeader)}}
		if run := r.Header.Get(runHeader); run != "" {
			runs, err := a.experimentsOfRuns(r.Context(), []string{run})
			if err != nil {
				return nil, err
			}
			refs = append(refs, runs...)
		}
		return refs, nil
	}
	byArtifactPath resolver = func(a *API, r *http.Request, _ *objectFields) ([]objectRef, error) {
		return a.artifactOwners(r)
	}
	// byModelAndSource is a new version's model, and what its files are copied from:
	// registering another team's run would otherwise let its artifacts be read
	// through the version.
	byModelAndSource resolver = func(a *API, r *http.Request, f *objectFields) ([]objectRef, error) {
		refs := []objectRef{{kind: auth.RegisteredModel, id: f.Name}}
		origin := a.registry.OriginOf(f.Source)
		// A run or logged model that does not exist lends no files: the version is
		// checked on its model alone, and the handler answers the rest.
		var exps []objectRef
		for _, id := range []string{string(f.RunID), origin.RunID} {
			if id == "" {
				continue
			}
			owner, err := a.experimentsOfRuns(r.Context(), []string{id})
			if err != nil && fault.KindOf(err) != fault.NotFound {
				return nil, err
			}
			exps = append(exps, owner...)
		}
		for _, id := range []string{string(f.ModelID), origin.LoggedModelID} {
			if id == "" {
				continue
			}
			exp, err := a.tracking.ExperimentOfLoggedModel(r.Context(), id)
			if err != nil && fault.KindOf(err) != fault.NotFound {
				return nil, err
			}
			if err == nil {
				exps = append(exps, objectRef{kind: auth.Experiment, id: exp})
			}
		}
		if origin.Model != "" {
			exps = append(exps, objectRef{kind: auth.RegisteredModel, id: origin.Model})
		}
		first, rest, _ := strings.Cut(origin.ArtifactPath, "/")
		if _, err := strconv.ParseInt(first, 10, 64); err == nil {
			exps = append(exps, objectRef{kind: auth.Experiment, id: first})
		} else if first == registeredDir {
			if _, err := a.registeredOwners(r.Context(), rest); err != nil {
				return nil, err
			}
		}
		for _, e := range exps {
			refs = append(refs, objectRef{kind: e.kind, id: e.id, level: auth.LevelRead})
		}
		return refs, nil
	}
)

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// objectRules maps "METHOD path" (under the MLflow prefixes) to its rule. Reading needs
// READ; changing EDIT; deleting, restoring and renaming MANAGE.
var objectRules = map[string]objectRule{
	"POST experiments/create":                {noObject, 0},
	"GET experiments/get":                    {byExperiment, auth.LevelRead},
	"GET experiments/get-by-name":            {byExperimentName, auth.LevelRead},
	"POST experiments/search":                {noObject, 0},
	"GET experiments/search":                 {noObject, 0},
	"POST experiments/delete":                {byExperiment, auth.LevelManage},
	"POST experiments/restore":               {byExperiment, auth.LevelManage},
	"POST experiments/update":                {byExperiment, auth.LevelManage},
	"POST experiments/set-experiment-tag":    {byExperiment, auth.LevelEdit},
	"POST experiments/delete-experiment-tag": {byExperiment, auth.LevelEdit},

	"POST runs/create":        {byExperiment, auth.LevelEdit},
	"GET runs/get":            {byRun, auth.LevelRead},
	"POST runs/update":        {byRun, auth.LevelEdit},
	"POST runs/delete":        {byRun, auth.LevelManage},
	"POST runs/restore":       {byRun, auth.LevelManage},
	"POST runs/search":        {noObject, 0},
	"POST runs/log-metric":    {byRun, auth.LevelEdit},
	"POST runs/log-parameter": {byRun, auth.LevelEdit},
	"POST runs/set-tag":       {byRun, auth.LevelEdit},
	"POST runs/delete-tag":    {byRun, auth.LevelEdit},
	"POST runs/log-batch":     {byRun, auth.LevelEdit},
	"POST runs/log-inputs":    {byRun, auth.LevelEdit},
	"POST runs/outputs":       {byRun, auth.LevelEdit},

	"GET metrics/get-history":               {byRun, auth.LevelRead},
	"GET metrics/get-history-bulk-interval": {byRun, auth.LevelRead},
	"GET artifacts/list":                    {byRun, auth.LevelRead},
	"POST artifacts/presigned-upload-url":   {byRunOrLoggedModel, auth.LevelEdit},
	"POST artifacts/presigned-download-url": {byRun, auth.LevelRead},
	"GET server-features":                   {noObject, 0},

	"POST logged-models":                                 {byExperiment, auth.LevelEdit},
	"GET logged-models/{model_id}":                       {byLoggedModel, auth.LevelRead},
	"PATCH logged-models/{model_id}":                     {byLoggedModel, auth.LevelEdit},
	"DELETE logged-models/{model_id}":                    {byLoggedModel, auth.LevelManage},
	"POST logged-models/search":                          {noObject, 0},
	"PATCH logged-models/{model_id}/tags":                {byLoggedModel, auth.LevelEdit},
	"DELETE logged-models/{model_id}/tags/{tag_key}":     {byLoggedModel, auth.LevelEdit},
	"POST logged-models/{model_id}/params":               {byLoggedModel, auth.LevelEdit},
	"GET logged-models/{model_id}/artifacts/directories": {byLoggedModel, auth.LevelRead},

	"POST registered-models/create":              {noObject, 0},
	"GET registered-models/get":                  {byModel, auth.LevelRead},
	"POST registered-models/rename":              {byModel, auth.LevelManage},
	"PATCH registered-models/update":             {byModel, auth.LevelEdit},
	"DELETE registered-models/delete":            {byModel, auth.LevelManage},
	"GET registered-models/search":               {noObject, 0},
	"POST registered-models/get-latest-versions": {byModel, auth.LevelRead},
	"GET registered-models/get-latest-versions":  {byModel, auth.LevelRead},
	"POST registered-models/set-tag":             {byModel, auth.LevelEdit},
	"DELETE registered-models/delete-tag":        {byModel, auth.LevelEdit},
	"POST registered-models/alias":               {byModel, auth.LevelEdit}, // a protected alias: MANAGE, asked by the alias guard
	"DELETE registered-models/alias":             {byModel, auth.LevelEdit},
	"GET registered-models/alias":                {byModel, auth.LevelRead},
	"POST model-versions/create":                 {byModelAndSource, auth.LevelEdit}, // READ on the source's run, logged model or version
	"GET model-versions/get":                     {byModel, auth.LevelRead},
	"PATCH model-versions/update":                {byModel, auth.LevelEdit},
	"DELETE model-versions/delete":               {byModel, auth.LevelManage},
	"GET model-versions/search":                  {noObject, 0},
	"POST model-versions/transition-stage":       {byModel, auth.LevelEdit},
	"GET model-versions/get-download-uri":        {byModel, auth.LevelRead},
	"POST model-versions/set-tag":                {byModel, auth.LevelEdit},
	"DELETE model-versions/delete-tag":           {byModel, auth.LevelEdit},
	"GET /model-versions/get-artifact":           {byModel, auth.LevelRead},

	// Traces belong to their experiment: reading one needs READ on it, writing EDIT.
	"POST traces":                                          {byTraceLocation, auth.LevelEdit},
	"GET traces/{trace_id}":                                {byTrace, auth.LevelRead},
	"GET traces/get":                                       {byTrace, auth.LevelRead},
	"GET traces/batchGet":                                  {byTrace, auth.LevelRead},
	"POST traces/batchGetInfos":                            {byTrace, auth.LevelRead},
	"POST traces/search":                                   {noObject, 0}, // searches readable experiments only
	"POST traces/calculate-filter-correlation":             {noObject, 0}, // counts in readable experiments only
	"POST traces/metrics":                                  {noObject, 0}, // aggregates readable experiments only
	"POST traces/delete-traces":                            {byExperiment, auth.LevelEdit},
	"PATCH traces/{trace_id}/tags":                         {byTrace, auth.LevelEdit},
	"DELETE traces/{trace_id}/tags":                        {byTrace, auth.LevelEdit},
	"POST traces/link-to-run":                              {byTraceAndRun, auth.LevelEdit},
	"POST traces/link-prompts":                             {byTrace, auth.LevelEdit},
	"POST traces/{trace_id}/assessments":                   {byTrace, auth.LevelEdit},
	"GET traces/{trace_id}/assessments/{assessment_id}":    {byTrace, auth.LevelRead},
	"PATCH traces/{trace_id}/assessments/{assessment_id}":  {byTrace, auth.LevelEdit},
	"DELETE traces/{trace_id}/assessments/{assessment_id}": {byTrace, auth.LevelEdit},
	"PATCH traces/{trace_id}":                              {byTrace, auth.LevelEdit},
	"GET traces/{trace_id}/info":                           {byTrace, auth.LevelRead},
	"GET traces":                                           {noObject, 0}, // searches readable experiments only
	"POST " + OTLPTracesPath:                               {byExperimentHeader, auth.LevelEdit},

	// Evaluation datasets belong to their experiments (byDataset: every one of them);
	// scorers to the experiment they are registered on.
	"POST datasets/create":                          {byNewDataset, auth.LevelEdit},
	"POST datasets/search":                          {noObject, 0}, // datasets of readable experiments only
	"GET datasets/{dataset_id}":                     {byDataset, auth.LevelRead},
	"DELETE datasets/{dataset_id}":                  {byDataset, auth.LevelEdit},
	"PATCH datasets/{dataset_id}/tags":              {byDataset, auth.LevelEdit},
	"DELETE datasets/{dataset_id}/tags/{key}":       {byDataset, auth.LevelEdit},
	"POST datasets/{dataset_id}/records":            {byDataset, auth.LevelEdit},
	"GET datasets/{dataset_id}/records":             {byDataset, auth.LevelRead},
	"DELETE datasets/{dataset_id}/records":          {byDataset, auth.LevelEdit},
	"GET datasets/{dataset_id}/experiment-ids":      {byDataset, auth.LevelRead},
	"POST datasets/{dataset_id}/add-experiments":    {byDatasetAndExperiments, auth.LevelEdit},
	"POST datasets/{dataset_id}/remove-experiments": {byDataset, auth.LevelEdit},
	"POST scorers/register":                         {byExperiment, auth.LevelEdit},
	"GET scorers/list":                              {byExperiment, auth.LevelRead},
	"GET scorers/versions":                          {byExperiment, auth.LevelRead},
	"GET scorers/get":                               {byExperiment, auth.LevelRead},
	"DELETE scorers/delete":                         {byExperiment, auth.LevelEdit},
	"GET scorers/online-configs":                    {noObject, 0},                  // always none
	"PUT scorers/online-config":                     {byExperiment, auth.LevelEdit}, // refused: scorers are never run

	// Webhooks are declared Admin: a webhook receives every registry event.
	"POST webhooks":                   {noObject, 0},
	"GET webhooks":                    {noObject, 0},
	"GET webhooks/{webhook_id}":       {noObject, 0},
	"PATCH webhooks/{webhook_id}":     {noObject, 0},
	"DELETE webhooks/{webhook_id}":    {noObject, 0},
	"POST webhooks/{webhook_id}/test": {noObject, 0},

	// The artifact proxy: a path's first segment is its experiment's id, or the
	// registered copies' directory, read as the models that hold the copy.
	"GET artifacts":     {byArtifactPath, auth.LevelRead},
	"PUT artifacts":     {byArtifactPath, auth.LevelEdit},
	"DELETE artifacts":  {byArtifactPath, auth.LevelManage},
	"POST mpu/create":   {byArtifactPath, auth.LevelEdit},
	"POST mpu/complete": {byArtifactPath, auth.LevelEdit},
	"POST mpu/abort":    {byArtifactPath, auth.LevelEdit},
	"PUT mpu/part":      {byArtifactPath, auth.LevelEdit},
	"GET presigned":     {byArtifactPath, auth.LevelRead},
}

// RuleFor reports whether the route method path (under an MLflow prefix, or the
// artifact proxy's) declares what it needs on the objects it touches, for the test
// that walks every route.
func RuleFor(method, path string) bool {
	_, ok := objectRules[method+" "+ruleKey(path)]
	return ok
}

func ruleKey(path string) string {
	for _, p := range append(append([]string{ArtifactsPrefix}, prefixes...), v3Prefixes...) {
		if strings.HasPrefix(path, p) {
			return strings.TrimPrefix(path, p)
		}
	}
	return path
}

// checkObjects wraps a route's handler with its object rule, when permissions are on.
func (a *API) checkObjects(method, path string, h http.Handler) http.Handler {
	if a.opts.Permissions == nil {
		return h
	}
	rule, ok := objectRules[method+" "+ruleKey(path)]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.allowed(r, rule, ok); err != nil {
			httpx.WriteError(w, r, a.logger, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *API) allowed(r *http.Request, rule objectRule, declared bool) error {
	id := auth.From(r.Context())
	if id == nil || id.Admin {
		return nil
	}
	if !declared {
		return fault.New(fault.PermissionDenied, "permission denied: %s %s is open to administrators only", r.Method, r.URL.Path)
	}
	if rule.of == nil {
		return nil
	}
	var f objectFields
	if err := a.peekFields(r, &f); err != nil {
		// Refused here, not left to the handler: a field the rule reads but the
		// handler ignores must not let a request past unchecked.
		return err
	}
	refs, err := rule.of(a, r, &f)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil // the handler answers it, as MLflow does
		}
		return err
	}
	for _, ref := range refs {
		if ref.id == "" {
			continue // the handler refuses the missing field
		}
		need := rule.level
		if ref.level != 0 {
			need = ref.level
		}
		if err := a.opts.Permissions.Can(r.Context(), ref.kind, ref.id, need); err != nil {
			return err
		}
	}
	return nil
}

// peekFields decodes the fields naming objects, from the query (GET) or the JSON body,
// and leaves the body for the handler to read again.
func (a *API) peekFields(r *http.Request, f *objectFields) error {
	switch {
	case strings.HasPrefix(r.URL.Path, ArtifactsPrefix), r.URL.Path == OTLPTracesPath:
		return nil // named by the path, or by headers
	case r.Method == http.MethodGet:
		return decodeQuery(r, f)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.opts.MaxBodyBytes+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil {
		return err
	}
	return decodeJSON(body, f)
}

// experimentsOfTraces returns the experiments of the traces a request names. A trace
// that does not exist names none: the handler answers it.
func (a *API) experimentsOfTraces(r *http.Request, f *objectFields) ([]objectRef, error) {
	ids := append(f.TraceIDs.strings(), f.RequestIDs.strings()...)
	for _, id := range []string{r.PathValue("trace_id"), string(f.TraceID), string(f.RequestID)} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	out := make([]objectRef, 0, len(ids))
	for _, id := range ids {
		exp, err := a.opts.Traces.ExperimentOf(r.Context(), id)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objectRef{kind: auth.Experiment, id: exp})
	}
	return out, nil
}

// experimentsOfRuns returns the experiments of the runs, remembered: a run never moves.
func (a *API) experimentsOfRuns(ctx context.Context, runs []string) ([]objectRef, error) {
	out := make([]objectRef, 0, len(runs))
	for _, run := range runs {
		exp, ok := a.runOwners.Get(run)
		if !ok {
			var err error
			if exp, err = a.tracking.ExperimentOfRun(ctx, run); err != nil {
				return nil, err
			}
			a.runOwners.Add(run, exp)
		}
		out = append(out, objectRef{kind: auth.Experiment, id: exp})
	}
	return out, nil
}

func newRunOwners() *lru.Cache[string, string] {
	c, _ := lru.New[string, string](65536)
	return c
}

// artifactOwners reads the objects an artifact proxy path lies in: the experiment its
// first segment names, or the registered models holding a registered copy. Any other
// path belongs to no object a grant can name, and is left to administrators.
func (a *API) artifactOwners(r *http.Request) ([]objectRef, error) {
	p := r.URL.Path
	for _, op := range []string{"artifacts", "mpu/create", "mpu/complete", "mpu/abort", "mpu/part", "presigned"} {
		if rest, ok := strings.CutPrefix(p, ArtifactsPrefix+op); ok {
			p = rest
			break
		}
	}
	key, err := blob.CleanUserPath(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, nil // the handler refuses the path
	}
	if key == "" && r.Method == http.MethodGet {
		if key, err = blob.CleanUserPath(r.URL.Query().Get("path")); err != nil {
			return nil, nil
		}
	}
	first, rest, _ := strings.Cut(key, "/")
	if _, err := strconv.ParseInt(first, 10, 64); err == nil {
		return []objectRef{{kind: auth.Experiment, id: first}}, nil
	}
	if first == registeredDir {
		return a.registeredOwners(r.Context(), rest)
	}
	return nil, errOutsideObjects
}

var errOutsideObjects = fault.New(fault.PermissionDenied, "permission denied: this artifact path lies in no experiment; it is open to administrators only")

// registeredOwners: a registered copy may be read by a reader of any model holding it.
func (a *API) registeredOwners(ctx context.Context, rest string) ([]objectRef, error) {
	algo, hex, _ := strings.Cut(rest, "/")
	hex, _, _ = strings.Cut(hex, "/")
	if algo != "sha256" || hex == "" {
		return nil, errOutsideObjects
	}
	names, err := a.registry.ModelsHolding(ctx, "sha256:"+hex)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if a.opts.Permissions.Can(ctx, auth.RegisteredModel, n, auth.LevelRead) == nil {
			return nil, nil
		}
	}
	return nil, fault.New(fault.PermissionDenied, "permission denied: reading this registered copy needs READ on a model that holds it")
}

// visible returns the restriction a search of kind needs for the caller: nil for none.
func (a *API) visible(ctx context.Context, kind auth.ObjectKind) (*sqlsearch.Restriction, error) {
	if a.opts.Permissions == nil {
		return nil, nil
	}
	v, err := a.opts.Permissions.Visible(ctx, kind)
	if err != nil || v == nil {
		return nil, err
	}
	return &sqlsearch.Restriction{Only: v.Only, IDs: v.IDs}, nil
}

// readableExperiments keeps the ids of experiments the caller may read, for searches
// over experiments (runs, logged models): the others are left out, not refused.
func (a *API) readableExperiments(ctx context.Context, ids []string) []string {
	if a.opts.Permissions == nil || auth.From(ctx) == nil {
		return ids
	}
	out := ids[:0:0]
	for _, id := range ids {
		if a.opts.Permissions.Can(ctx, auth.Experiment, id, auth.LevelRead) == nil {
			out = append(out, id)
		}
	}
	return out
}

// created grants the caller MANAGE on what it just created.
func (a *API) created(ctx context.Context, kind auth.ObjectKind, id string) error {
	if a.opts.Permissions == nil {
		return nil
	}
	if err := a.opts.Permissions.GrantCreator(ctx, kind, id); err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	return nil
}
