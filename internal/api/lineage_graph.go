package api

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/serving"
)

// LineageGraph is a model version's lineage as a graph, for a page to draw: dataset
// versions -> run -> (logged model ->) model version -> deployments.
type LineageGraph struct {
	Nodes []LineageNode `json:"nodes"`
	Edges []LineageEdge `json:"edges"`
}

// Node kinds.
const (
	NodeDataset        = "dataset"         // a dataset the run logged, not registered here
	NodeDatasetVersion = "dataset_version" // a dataset version registered here
	NodeRun            = "run"
	NodeLoggedModel    = "logged_model"
	NodeModelVersion   = "model_version"
	NodeDeployment     = "deployment"
)

// LineageNode is one thing in the lineage. ID is unique in the graph: its kind and its
// name ("run:<id>", "model_version:<name>/<version>").
type LineageNode struct {
	ID    string            `json:"id"`
	Kind  string            `json:"kind"`
	Label string            `json:"label"`
	Attrs map[string]string `json:"attrs"`
	// Files are a model version's stored files and their content hashes.
	Files []File `json:"files,omitempty"`
}

// LineageEdge is a step from one node to another: input (a dataset into the run, Label
// its context), logged, registered, produced, serves (Label the role).
type LineageEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Kind  string `json:"kind"`
	Label string `json:"label,omitempty"`
}

func (g *LineageGraph) node(n LineageNode) string {
	if n.Attrs == nil {
		n.Attrs = map[string]string{}
	}
	g.Nodes = append(g.Nodes, n)
	return n.ID
}

func (g *LineageGraph) edge(from, to, kind, label string) {
	g.Edges = append(g.Edges, LineageEdge{From: from, To: to, Kind: kind, Label: label})
}

// lineageGraph draws l, whose version is v. Dataset versions and deployments the
// caller may not read are left out.
func (a *API) lineageGraph(ctx context.Context, l *Lineage, v *registry.ModelVersion) (LineageGraph, error) {
	g := LineageGraph{Nodes: []LineageNode{}, Edges: []LineageEdge{}}
	mv := g.node(LineageNode{ID: "model_version:" + v.Name + "/" + v.Version, Kind: NodeModelVersion,
		Label: v.Name + " v" + v.Version, Files: l.Files,
		Attrs: map[string]string{"name": v.Name, "version": v.Version, "manifest_digest": v.ManifestDigest, "source": v.Source}})
	producer := mv
	if v.ModelID != "" {
		producer = g.node(LineageNode{ID: "logged_model:" + v.ModelID, Kind: NodeLoggedModel, Label: v.ModelID,
			Attrs: map[string]string{"model_id": v.ModelID}})
		g.edge(producer, mv, "registered", "")
	}
	if l.Run != nil {
		run := g.node(LineageNode{ID: "run:" + l.Run.RunID, Kind: NodeRun, Label: l.Run.RunName,
			Attrs: map[string]string{"run_id": l.Run.RunID, "experiment_id": l.Run.ExperimentID, "status": l.Run.Status,
				"git_commit": l.SourceCode.GitCommit}})
		g.edge(run, producer, map[bool]string{true: "logged", false: "produced"}[producer != mv], "")
		if err := a.datasetNodes(ctx, &g, l.Datasets, run); err != nil {
			return g, err
		}
	}
	return g, a.deploymentNodes(ctx, &g, v, mv)
}

// datasetNodes adds the run's datasets: the registered dataset version a digest names
// when there is one the caller may read, else the dataset as the run logged it.
func (a *API) datasetNodes(ctx context.Context, g *LineageGraph, ds []Dataset, run string) error {
	visible, err := a.auth.Visible(ctx, auth.Dataset)
	if err != nil {
		return err
	}
	for _, d := range ds {
		id := ""
		if a.datasets != nil {
			vs, err := a.datasets.ByDigest(ctx, d.Digest)
			if err != nil {
				return err
			}
			for _, dv := range vs {
				if visible.Allows(dv.Name) {
					version := strconv.FormatInt(dv.Version, 10)
					id = g.node(LineageNode{ID: "dataset_version:" + dv.Name + "/" + version, Kind: NodeDatasetVersion,
						Label: dv.Name + " v" + version, Attrs: map[string]string{"name": dv.Name, "version": version,
							"digest": dv.Digest, "rows": strconv.FormatInt(dv.Rows, 10), "logged_as": d.Name}})
					break
				}
			}
		}
		if id == "" {
			id = g.node(LineageNode{ID: "dataset:" + d.Name + "@" + d.Digest, Kind: NodeDataset, Label: d.Name,
				Attrs: map[string]string{"name": d.Name, "digest": d.Digest, "source_type": d.SourceType, "source": d.Source}})
		}
		g.edge(id, run, "input", d.Context)
	}
	return nil
}

// servesVersion reports whether a deployment's role serves v: the version it has loaded
// or, before it has loaded one, the version its reference names now.
func servesVersion(ms serving.ModelStatus, v *registry.ModelVersion) bool {
	if ms.Model != "" {
		return ms.Model == v.Name && ms.Version == v.Version
	}
	rest, ok := strings.CutPrefix(ms.Ref, "models:/")
	if !ok {
		return false
	}
	if name, alias, ok := strings.Cut(rest, "@"); ok {
		return name == v.Name && slices.Contains(v.Aliases, alias)
	}
	return rest == v.Name+"/"+v.Version
}

// deploymentNodes adds the deployments, of those the caller may read, that serve the
// version, in each role they serve it in.
func (a *API) deploymentNodes(ctx context.Context, g *LineageGraph, v *registry.ModelVersion, mv string) error {
	if a.deployments == nil {
		return nil
	}
	visible, err := a.auth.Visible(ctx, auth.Deployment)
	if err != nil {
		return err
	}
	for _, d := range a.deployments.List() {
		if !visible.Allows(d.Name()) {
			continue
		}
		view, id := d.View(), ""
		for _, ms := range view.Status.Models {
			if !servesVersion(ms, v) {
				continue
			}
			if id == "" {
				id = g.node(LineageNode{ID: "deployment:" + view.Name, Kind: NodeDeployment, Label: view.Name,
					Attrs: map[string]string{"name": view.Name, "state": view.Status.State, "model": view.Spec.Model,
						"loaded": strconv.FormatBool(ms.Model != "")}})
			}
			g.edge(mv, id, "serves", ms.Role)
		}
	}
	return nil
}
