package server

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/monitor"
	"github.com/mlship/mlship/internal/tracking"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving"
)

// modelSource resolves deployment references through the registry and brings the
// versions' files out of the content store into a local cache, one directory per
// manifest.
type modelSource struct {
	registry *registry.Service
	content  content
	cacheDir string
}

var _ serving.Source = modelSource{}

func (s modelSource) Resolve(ctx context.Context, ref string) (serving.Version, error) {
	switch {
	case strings.HasPrefix(ref, "models:/"):
		return s.resolveModel(ctx, strings.TrimPrefix(ref, "models:/"))
	case strings.HasPrefix(ref, "runs:/"):
		return s.resolveRun(ctx, strings.TrimPrefix(ref, "runs:/"))
	}
	return serving.Version{}, fault.Invalidf("cannot serve %q: name a registered model (models:/NAME@ALIAS or models:/NAME/VERSION) or a run's model (runs:/RUN_ID/PATH)", ref)
}

func (s modelSource) resolveModel(ctx context.Context, rest string) (serving.Version, error) {
	var v *registry.ModelVersion
	var err error
	if name, alias, ok := strings.Cut(rest, "@"); ok {
		v, err = s.registry.GetVersionByAlias(ctx, name, alias)
	} else if i := strings.LastIndexByte(rest, '/'); i > 0 {
		name, version := rest[:i], rest[i+1:]
		if strings.EqualFold(version, "latest") {
			v, err = s.registry.GetVersionByAlias(ctx, name, "latest")
		} else {
			v, err = s.registry.GetModelVersion(ctx, name, version)
		}
	} else {
		return serving.Version{}, fault.Invalidf("models:/%s names no version: use models:/NAME@ALIAS or models:/NAME/VERSION", rest)
	}
	if err != nil {
		return serving.Version{}, err
	}
	if v.ManifestDigest == "" {
		return serving.Version{}, fault.Invalidf("model version %s/%s has no files stored by this server (its source is %s), so it cannot be served", v.Name, v.Version, v.Source)
	}
	return serving.Version{Model: v.Name, Version: v.Version, Key: v.ManifestDigest}, nil
}

func (s modelSource) resolveRun(ctx context.Context, rest string) (serving.Version, error) {
	runID, path, _ := strings.Cut(rest, "/")
	root, err := s.content.RunArtifactURI(ctx, runID)
	if err != nil {
		return serving.Version{}, err
	}
	uri := root
	if path = strings.Trim(path, "/"); path != "" {
		uri += "/" + path
	}
	digest, err := s.content.Snapshot(ctx, uri)
	if err != nil {
		return serving.Version{}, err
	}
	if digest == "" {
		return serving.Version{}, fault.NotFoundf("run %s has no files under %q stored by this server", runID, path)
	}
	return serving.Version{Model: runID, Version: path, Key: digest}, nil
}

func (s modelSource) Fetch(ctx context.Context, v serving.Version) (string, error) {
	return s.content.cas.Materialize(ctx, v.Key, s.cacheDir)
}

// trainingData finds the dataset version a model version learned from: a dataset its
// run logged (mlflow.log_input) whose digest is a registered dataset version's, the
// one logged with the context "training" first.
func trainingData(reg *registry.Service, tr *tracking.Service, ds *datasets.Service) monitor.TrainingData {
	return func(ctx context.Context, model, version string) (*datasets.Version, error) {
		mv, err := reg.GetModelVersion(ctx, model, version)
		if err != nil || mv.RunID == "" {
			return nil, err
		}
		run, err := tr.GetRun(ctx, mv.RunID)
		if err != nil {
			return nil, err
		}
		inputs := slices.Clone(run.Inputs.DatasetInputs)
		slices.SortStableFunc(inputs, func(a, b tracking.DatasetInput) int {
			return boolRank(inputContext(b) == "training") - boolRank(inputContext(a) == "training")
		})
		for _, in := range inputs {
			vs, err := ds.ByDigest(ctx, in.Dataset.Digest)
			if err != nil {
				return nil, err
			}
			if len(vs) > 0 {
				return vs[0], nil
			}
		}
		return nil, nil
	}
}

func inputContext(in tracking.DatasetInput) string {
	for _, t := range in.Tags {
		if t.Key == "mlflow.data.context" {
			return t.Value
		}
	}
	return ""
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// versionLoader loads a registered model version as a deployment would (same files,
// same runtime choice), for benchmark evaluations.
type versionLoader struct {
	source   modelSource
	runtimes serving.RuntimeFactory
	logger   *slog.Logger
}

func (l versionLoader) Load(ctx context.Context, model, version string) (runtime.Model, string, error) {
	v, err := l.source.resolveModel(ctx, model+"/"+version)
	if err != nil {
		return nil, "", err
	}
	return serving.LoadVersion(ctx, l.source, l.runtimes, v, serving.Spec{Name: "gate"}, l.logger.With("role", "evaluation"))
}

// pruneTraffic deletes the hourly traffic history past serving.TrafficRetention, hourly.
func pruneTraffic(st *serving.SQLStore, logger *slog.Logger) jobs.Periodic {
	return jobs.Periodic{Name: "prune_traffic", Interval: time.Hour, Run: func(ctx context.Context) error {
		n, err := st.PruneTraffic(ctx, time.Now().Add(-serving.TrafficRetention).Unix()/3600*3600)
		if n > 0 {
			logger.Info("serving: pruned traffic history past the retention period", "hours", n)
		}
		return err
	}}
}
