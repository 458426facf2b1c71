package api_test

import (
	"testing"

	"github.com/mlship/mlship/internal/api"
)

// The graph runs from the run's datasets (a registered version where the digest names
// one) through the run to the version, with its files, and the deployments serving it.
func TestLineageGraph(t *testing.T) {
	s := newServer(t)
	f := register(t, s)
	postData(t, s, "transactions", "tx.csv", "text/csv", []byte("amount,label\n1.5,0\n2.5,1\n"))
	var dv struct {
		MLflowDigest string `json:"mlflow_digest"`
		Digest       string `json:"digest"`
	}
	s.ok(t, "GET", "/api/v1/datasets/transactions/versions/1", nil, &dv)
	s.ok(t, "POST", mlflow+"runs/log-inputs", map[string]any{"run_id": f.runID, "datasets": []map[string]any{{
		"tags":    []map[string]string{{"key": "mlflow.data.context", "value": "evaluation"}},
		"dataset": map[string]string{"name": "tx", "digest": dv.MLflowDigest, "source_type": "local", "source": "{}"},
	}}}, nil)
	s.ok(t, "POST", "/api/v1/deployments", map[string]any{"name": "fraud-api", "model": "models:/fraud@champion"}, nil)
	s.ok(t, "POST", "/api/v1/deployments", map[string]any{"name": "other", "model": "models:/fraud/2"}, nil)

	var l api.Lineage
	s.ok(t, "GET", "/api/v1/models/fraud/versions/1/lineage", nil, &l)
	nodes := map[string]api.LineageNode{}
	for _, n := range l.Graph.Nodes {
		nodes[n.ID] = n
	}
	mv, run := "model_version:fraud/1", "run:"+f.runID
	ds, reg := "dataset:transactions@abc123", "dataset_version:transactions/1"
	if len(nodes) != 5 || nodes[mv].Kind != "model_version" || len(nodes[mv].Files) != 3 || nodes[mv].Files[0].Digest == "" ||
		nodes[run].Kind != "run" || nodes[ds].Kind != "dataset" || nodes[reg].Attrs["digest"] != dv.Digest ||
		nodes["deployment:fraud-api"].Kind != "deployment" {
		t.Fatalf("nodes = %+v", l.Graph.Nodes)
	}
	want := []api.LineageEdge{
		{From: run, To: mv, Kind: "produced"},
		{From: ds, To: run, Kind: "input", Label: "training"},
		{From: reg, To: run, Kind: "input", Label: "evaluation"},
		{From: mv, To: "deployment:fraud-api", Kind: "serves", Label: "primary"},
	}
	if len(l.Graph.Edges) != len(want) {
		t.Fatalf("edges = %+v", l.Graph.Edges)
	}
	for _, e := range want {
		found := false
		for _, g := range l.Graph.Edges {
			found = found || g == e
		}
		if !found {
			t.Errorf("edge %+v missing from %+v", e, l.Graph.Edges)
		}
	}
}
