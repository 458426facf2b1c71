package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/server"
)

const mlflow = "/api/2.0/mlflow/"

type testServer struct {
	*httptest.Server
	content string // the content destination
}

func newServer(t *testing.T) *testServer {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, content: cfg.ContentDestination}
}

// do sends a request and decodes a 200 answer into out; it returns the status and body.
func (s *testServer) do(t *testing.T, method, target string, body any, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, _ := json.Marshal(b)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if _, isString := body.(string); method == "POST" && !isString {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, target, err, b)
		}
	}
	return resp.StatusCode, b
}

func (s *testServer) ok(t *testing.T, method, target string, body any, out any) {
	t.Helper()
	if status, b := s.do(t, method, target, body, out); status != 200 {
		t.Fatalf("%s %s: status %d: %s", method, target, status, b)
	}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

const (
	mlmodel      = "artifact_path: model\nflavors:\n  sklearn: {}\n"
	pickle       = "not really a pickle"
	requirements = "scikit-learn==1.5.0\nnumpy==2.0.0\n"
)

type fixture struct {
	expID, runID string
}

// register logs a run with params, metrics, git tags and a dataset, uploads a model's
// files, and registers version 1 of "fraud" from them.
func register(t *testing.T, s *testServer) fixture {
	t.Helper()
	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	s.ok(t, "POST", mlflow+"experiments/create", map[string]any{"name": "lineage"}, &exp)
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	s.ok(t, "POST", mlflow+"runs/create", map[string]any{"experiment_id": exp.ExperimentID, "run_name": "train-1",
		"user_id": "ana", "start_time": 1000, "tags": []map[string]string{
			{"key": "mlflow.source.git.commit", "value": "0123456789abcdef0123456789abcdef01234567"},
			{"key": "mlflow.source.git.repoURL", "value": "https://git.example.com/fraud.git"},
			{"key": "mlflow.source.git.branch", "value": "main"},
			{"key": "mlflow.source.name", "value": "train.py"},
			{"key": "mlflow.source.type", "value": "LOCAL"},
		}}, &run)
	id := run.Run.Info.RunID
	s.ok(t, "POST", mlflow+"runs/log-batch", map[string]any{"run_id": id,
		"params": []map[string]string{{"key": "alpha", "value": "0.5"}, {"key": "epochs", "value": "10"}},
		"metrics": []map[string]any{{"key": "auc", "value": 0.8, "timestamp": 1, "step": 0},
			{"key": "auc", "value": 0.9, "timestamp": 2, "step": 1}}}, nil)
	s.ok(t, "POST", mlflow+"runs/log-inputs", map[string]any{"run_id": id, "datasets": []map[string]any{{
		"tags":    []map[string]string{{"key": "mlflow.data.context", "value": "training"}},
		"dataset": map[string]string{"name": "transactions", "digest": "abc123", "source_type": "s3", "source": `{"uri": "s3://data/tx.parquet"}`},
	}}}, nil)
	s.ok(t, "POST", mlflow+"runs/update", map[string]any{"run_id": id, "status": "FINISHED", "end_time": 2000}, nil)
	root := "/api/2.0/mlflow-artifacts/artifacts/" + exp.ExperimentID + "/" + id + "/artifacts/model/"
	for name, body := range map[string]string{"MLmodel": mlmodel, "model.pkl": pickle, "requirements.txt": requirements} {
		s.ok(t, "PUT", root+name, body, nil)
	}
	s.ok(t, "POST", mlflow+"registered-models/create", map[string]any{"name": "fraud", "tags": []map[string]string{
		{"key": "mlship.owner", "value": "ana"}, {"key": "mlship.contact", "value": "#fraud"}}}, nil)
	s.ok(t, "POST", mlflow+"model-versions/create", map[string]any{"name": "fraud", "run_id": id,
		"source": "mlflow-artifacts:/" + exp.ExperimentID + "/" + id + "/artifacts/model",
		"tags":   []map[string]string{{"key": "quality", "value": "good"}}}, nil)
	s.ok(t, "POST", mlflow+"registered-models/alias", map[string]any{"name": "fraud", "alias": "champion", "version": "1"}, nil)
	return fixture{expID: exp.ExperimentID, runID: id}
}

func TestLineage(t *testing.T) {
	s := newServer(t)
	f := register(t, s)
	var got api.Lineage
	s.ok(t, "GET", "/api/v1/models/fraud/versions/1/lineage", nil, &got)

	if !strings.HasPrefix(got.Version.ManifestDigest, "sha256:") || got.Version.CreationTimestamp == 0 {
		t.Errorf("version = %+v", got.Version)
	}
	got.Version.ManifestDigest, got.Version.CreationTimestamp = "", 0
	got.Graph = api.LineageGraph{} // TestLineageGraph
	start, end := int64(1000), int64(2000)
	source := "mlflow-artifacts:/" + f.expID + "/" + f.runID + "/artifacts/model"
	want := api.Lineage{
		Model: api.LineageModel{Name: "fraud", Owner: "ana", Contact: "#fraud"},
		Version: api.LineageVersion{Version: "1", Source: source, StorageLocation: source, RunID: f.runID,
			Aliases: []string{"champion"}, Tags: map[string]string{"quality": "good"}},
		Run: &api.LineageRun{RunID: f.runID, ExperimentID: f.expID, RunName: "train-1", UserID: "ana",
			StartTime: &start, EndTime: &end, Status: "FINISHED",
			Params:  map[string]string{"alpha": "0.5", "epochs": "10"},
			Metrics: map[string]protojson.Float{"auc": 0.9}},
		SourceCode: api.SourceCode{GitCommit: "0123456789abcdef0123456789abcdef01234567",
			GitRepo: "https://git.example.com/fraud.git", GitBranch: "main", EntryPoint: "train.py", SourceType: "LOCAL"},
		Datasets: []api.Dataset{{Name: "transactions", Digest: "abc123", SourceType: "s3",
			Source: `{"uri": "s3://data/tx.parquet"}`, Context: "training"}},
		Environment: []api.EnvironmentFile{{Path: "requirements.txt", Digest: digest(requirements),
			Size: int64(len(requirements)), Content: requirements}},
		Files: []api.File{
			{Path: "MLmodel", Size: int64(len(mlmodel)), Digest: digest(mlmodel)},
			{Path: "model.pkl", Size: int64(len(pickle)), Digest: digest(pickle)},
			{Path: "requirements.txt", Size: int64(len(requirements)), Digest: digest(requirements)},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("lineage =\n%s\nwant\n%s", g, w)
	}
}

func TestLineageNotFound(t *testing.T) {
	s := newServer(t)
	register(t, s)
	for _, target := range []string{
		"/api/v1/models/nope/versions/1/lineage",
		"/api/v1/models/fraud/versions/2/lineage",
	} {
		status, body := s.do(t, "GET", target, nil, nil)
		if status != 404 || !strings.Contains(string(body), "RESOURCE_DOES_NOT_EXIST") {
			t.Errorf("GET %s = %d %s, want 404 RESOURCE_DOES_NOT_EXIST", target, status, body)
		}
	}
	if status, body := s.do(t, "POST", "/api/v1/models/nope/versions/1/verify", nil, nil); status != 404 {
		t.Errorf("verify of a missing model = %d %s", status, body)
	}
	if status, body := s.do(t, "GET", "/api/v1/nothing", nil, nil); status != 404 || !strings.Contains(string(body), "ENDPOINT_NOT_FOUND") {
		t.Errorf("unknown endpoint = %d %s", status, body)
	}
}

func TestVerify(t *testing.T) {
	s := newServer(t)
	register(t, s)
	var v api.Verification
	s.ok(t, "POST", "/api/v1/models/fraud/versions/1/verify", nil, &v)
	if !v.OK || len(v.Problems) != 0 || v.Name != "fraud" || v.Version != "1" || v.ManifestDigest == "" {
		t.Fatalf("verify of an intact version = %+v", v)
	}

	corruptObject(t, s.content, digest(pickle))
	s.ok(t, "POST", "/api/v1/models/fraud/versions/1/verify", nil, &v)
	want := []api.Problem{{Path: "model.pkl", Digest: digest(pickle), Kind: "corrupt"}}
	if v.OK || !reflect.DeepEqual(v.Problems, want) {
		t.Errorf("verify after corruption = %+v, want problems %+v", v, want)
	}

	corruptObject(t, s.content, digest(requirements))
	var l api.Lineage
	s.ok(t, "GET", "/api/v1/models/fraud/versions/1/lineage", nil, &l)
	if len(l.Environment) != 1 || l.Environment[0].Problem != "corrupt" || l.Environment[0].Content != "" {
		t.Errorf("lineage environment of a corrupt file = %+v", l.Environment)
	}
}

// corruptObject overwrites the stored object of digest with other bytes of its size.
func corruptObject(t *testing.T, contentDir, digest string) {
	t.Helper()
	hx := strings.TrimPrefix(digest, "sha256:")
	p := filepath.Join(contentDir, "cas", "objects", "sha256", hx[:2], hx)
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), int(info.Size())), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := newServer(t)
	var doc map[string]any
	s.ok(t, "GET", "/api/v1/openapi.json", nil, &doc)
	if doc["openapi"] == nil || doc["paths"] == nil {
		t.Errorf("openapi.json = %v", doc)
	}
}

// Garbage collection keeps what versions reference: content of a live version survives,
// and young files are kept for the grace period.
func TestContentGC(t *testing.T) {
	s := newServer(t)
	register(t, s)
	var c api.Collection
	s.ok(t, "POST", "/api/v1/content/gc", nil, &c)
	if c.Removed != 0 || c.FreedBytes != 0 {
		t.Fatalf("gc right after registering removed %+v", c)
	}
	var v api.Verification
	s.ok(t, "POST", "/api/v1/models/fraud/versions/1/verify", nil, &v)
	if !v.OK {
		t.Fatalf("version 1 after gc: %+v", v)
	}
}

// A version's files come back from the content store byte for byte; a corrupt one is
// cut off rather than served whole.
func TestVersionFiles(t *testing.T) {
	s := newServer(t)
	register(t, s)
	const files = "/api/v1/models/fraud/versions/1/files/"
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"model.pkl", pickle, 200},
		{"requirements.txt", requirements, 200},
		{"nope.bin", "", 404},
		{"..%2fmodel.pkl", "", 400},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, body := s.do(t, "GET", files+tc.path, nil, nil)
			if status != tc.status || (status == 200 && string(body) != tc.want) {
				t.Fatalf("GET %s = %d %q, want %d %q", tc.path, status, body, tc.status, tc.want)
			}
		})
	}
	corruptObject(t, s.content, digest(pickle))
	resp, err := http.Get(s.URL + files + "model.pkl")
	if err != nil {
		return // cut off before the headers: small files are sent in one piece
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err == nil && string(b) == strings.Repeat("x", len(pickle)) {
		t.Fatal("a corrupt file was served whole")
	}
}
