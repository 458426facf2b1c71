package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"slices"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/tracking"
)

// maxEnvironmentFile caps how much of one environment file a lineage answer carries.
const maxEnvironmentFile = 64 << 10

// environmentFiles are the files, at any depth of a version, that say how to rebuild
// the environment it ran in.
var environmentFiles = []string{"requirements.txt", "conda.yaml", "python_env.yaml", "constraints.txt"}

// Run tags that say where a run's code came from (MLflow's mlflow.source.* tags).
const (
	tagGitCommit   = "mlflow.source.git.commit"
	tagGitRepo     = "mlflow.source.git.repoURL"
	tagGitBranch   = "mlflow.source.git.branch"
	tagSourceName  = "mlflow.source.name"
	tagSourceType  = "mlflow.source.type"
	tagDataContext = "mlflow.data.context"
)

// Lineage is where a model version came from: its run, code, data, environment and files.
type Lineage struct {
	Model       LineageModel      `json:"model"`
	Version     LineageVersion    `json:"version"`
	Run         *LineageRun       `json:"run"`
	SourceCode  SourceCode        `json:"source_code"`
	Datasets    []Dataset         `json:"datasets"`
	Environment []EnvironmentFile `json:"environment"`
	Files       []File            `json:"files"`
	// Graph is the lineage as nodes and edges, deployments serving the version included.
	Graph LineageGraph `json:"graph"`
}

// LineageModel is the registered model and who owns it.
type LineageModel struct {
	Name    string `json:"name"`
	Owner   string `json:"owner"`
	Contact string `json:"contact"`
}

// LineageVersion is the version itself.
type LineageVersion struct {
	Version           string            `json:"version"`
	Source            string            `json:"source"`
	StorageLocation   string            `json:"storage_location"`
	RunID             string            `json:"run_id"`
	UserID            string            `json:"user_id"`
	CreationTimestamp int64             `json:"creation_timestamp"`
	ManifestDigest    string            `json:"manifest_digest"`
	Aliases           []string          `json:"aliases"`
	Tags              map[string]string `json:"tags"`
}

// LineageRun is the run that produced the version.
type LineageRun struct {
	RunID        string                     `json:"run_id"`
	ExperimentID string                     `json:"experiment_id"`
	RunName      string                     `json:"run_name"`
	UserID       string                     `json:"user_id"`
	StartTime    *int64                     `json:"start_time"`
	EndTime      *int64                     `json:"end_time"`
	Status       string                     `json:"status"`
	Params       map[string]string          `json:"params"`
	Metrics      map[string]protojson.Float `json:"metrics"` // the latest value of each
}

// SourceCode is where the run's code came from, from its mlflow.source.* tags.
type SourceCode struct {
	GitCommit  string `json:"git_commit"`
	GitRepo    string `json:"git_repo"`
	GitBranch  string `json:"git_branch"`
	EntryPoint string `json:"entry_point"`
	SourceType string `json:"source_type"`
}

// Dataset is a dataset the run used.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Context    string `json:"context"` // training, evaluation...
}

// EnvironmentFile is a file of the version that describes its environment, with its text.
type EnvironmentFile struct {
	Path    string `json:"path"`
	Digest  string `json:"digest"`
	Size    int64  `json:"size"`
	Content string `json:"content"`
	// Truncated is set when the file is larger than the cap: Content is its beginning,
	// and, being partial, was not checked against Digest.
	Truncated bool `json:"truncated,omitempty"`
	// Problem is "missing" or "corrupt" when the stored file could not be read intact;
	// Content is then empty.
	Problem string `json:"problem,omitempty"`
}

// File is one file of the version as stored here.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
}

func (a *API) lineage(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.Lineage(r.Context(), r.PathValue("name"), r.PathValue("version"))
}

// Lineage gathers the lineage of a model version.
func (a *API) Lineage(ctx context.Context, name, version string) (*Lineage, error) {
	m, err := a.registry.GetRegisteredModel(ctx, name)
	if err != nil {
		return nil, err
	}
	v, err := a.registry.GetModelVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	l := &Lineage{Model: lineageModel(m), Version: lineageVersion(v), Datasets: []Dataset{},
		Environment: []EnvironmentFile{}, Files: []File{}}
	if err := a.addRun(ctx, l, v.RunID); err != nil {
		return nil, err
	}
	if err := a.addFiles(ctx, l, v.ManifestDigest); err != nil {
		return nil, err
	}
	if l.Graph, err = a.lineageGraph(ctx, l, v); err != nil {
		return nil, err
	}
	return l, nil
}

func lineageModel(m *registry.RegisteredModel) LineageModel {
	lm := LineageModel{Name: m.Name}
	for _, t := range m.Tags {
		switch t.Key {
		case registry.TagOwner:
			lm.Owner = t.Value
		case registry.TagContact:
			lm.Contact = t.Value
		}
	}
	return lm
}

func lineageVersion(v *registry.ModelVersion) LineageVersion {
	lv := LineageVersion{Version: v.Version, Source: v.Source, StorageLocation: v.StorageLocation,
		RunID: v.RunID, UserID: v.UserID, CreationTimestamp: v.CreationTimestamp,
		ManifestDigest: v.ManifestDigest, Aliases: slices.Clone(v.Aliases), Tags: map[string]string{}}
	if lv.Aliases == nil {
		lv.Aliases = []string{}
	}
	for _, t := range v.Tags {
		lv.Tags[t.Key] = t.Value
	}
	return lv
}

// addRun fills in the run, its code and its datasets. A run that no longer exists
// leaves them empty: the version outlives it.
func (a *API) addRun(ctx context.Context, l *Lineage, runID string) error {
	if runID == "" {
		return nil
	}
	run, err := a.tracking.GetRun(ctx, runID)
	if errors.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	l.Run = lineageRun(run)
	l.SourceCode = sourceCode(run.Data.Tags)
	for _, in := range run.Inputs.DatasetInputs {
		l.Datasets = append(l.Datasets, dataset(in))
	}
	return nil
}

func lineageRun(run *tracking.Run) *LineageRun {
	lr := &LineageRun{RunID: run.Info.RunID, ExperimentID: run.Info.ExperimentID, RunName: run.Info.RunName,
		UserID: run.Info.UserID, StartTime: run.Info.StartTime, EndTime: run.Info.EndTime, Status: run.Info.Status,
		Params: map[string]string{}, Metrics: map[string]protojson.Float{}}
	for _, p := range run.Data.Params {
		lr.Params[p.Key] = p.Value
	}
	for _, m := range run.Data.Metrics {
		lr.Metrics[m.Key] = m.Value
	}
	return lr
}

func sourceCode(tags []tracking.Tag) SourceCode {
	var sc SourceCode
	fields := map[string]*string{tagGitCommit: &sc.GitCommit, tagGitRepo: &sc.GitRepo,
		tagGitBranch: &sc.GitBranch, tagSourceName: &sc.EntryPoint, tagSourceType: &sc.SourceType}
	for _, t := range tags {
		if f, ok := fields[t.Key]; ok {
			*f = t.Value
		}
	}
	return sc
}

func dataset(in tracking.DatasetInput) Dataset {
	d := Dataset{Name: in.Dataset.Name, Digest: in.Dataset.Digest, SourceType: in.Dataset.SourceType,
		Source: in.Dataset.Source}
	for _, t := range in.Tags {
		if t.Key == tagDataContext {
			d.Context = t.Value
		}
	}
	return d
}

// addFiles lists the version's stored files and reads its environment files.
func (a *API) addFiles(ctx context.Context, l *Lineage, digest string) error {
	if digest == "" {
		return nil
	}
	m, err := a.content.Manifest(ctx, digest)
	if err != nil {
		return err
	}
	for _, e := range m.Entries {
		l.Files = append(l.Files, File{Path: e.Path, Size: e.Size, Digest: e.Digest})
		if !slices.Contains(environmentFiles, path.Base(e.Path)) {
			continue
		}
		f, err := a.environmentFile(ctx, e)
		if err != nil {
			return err
		}
		l.Environment = append(l.Environment, f)
	}
	return nil
}

// environmentFile reads an environment file through the content store, which checks
// its hash when the whole file is read.
func (a *API) environmentFile(ctx context.Context, e cas.Entry) (EnvironmentFile, error) {
	f := EnvironmentFile{Path: e.Path, Digest: e.Digest, Size: e.Size, Truncated: e.Size > maxEnvironmentFile}
	rc, err := a.content.Open(ctx, e.Digest)
	if errors.Is(err, cas.ErrNotFound) {
		f.Problem = string(cas.ProblemMissing)
		return f, nil
	}
	if err != nil {
		return f, err
	}
	defer rc.Close()
	var rd io.Reader = rc
	if f.Truncated {
		rd = io.LimitReader(rc, maxEnvironmentFile)
	}
	b, err := io.ReadAll(rd)
	if errors.Is(err, cas.ErrCorrupt) {
		f.Problem = string(cas.ProblemCorrupt)
		return f, nil
	}
	if err != nil {
		return f, err
	}
	f.Content = string(b)
	return f, nil
}
