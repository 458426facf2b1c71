package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersionRef(t *testing.T) {
	tests := []struct {
		arg      string
		optional bool
		want     versionRef
		wantErr  bool
	}{
		{"fraud/3", false, versionRef{name: "fraud", version: "3"}, false},
		{"fraud@champion", false, versionRef{name: "fraud", alias: "champion"}, false},
		{"a@b@c", false, versionRef{name: "a@b", alias: "c"}, false},
		{"fraud", true, versionRef{name: "fraud"}, false},
		{"fraud", false, versionRef{}, true},
		{"fraud/x", false, versionRef{}, true},
		{"fraud/", true, versionRef{}, true},
		{"fraud@", false, versionRef{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			got, err := parseVersionRef(tc.arg, tc.optional)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseVersionRef(%q, %v) = %+v, %v", tc.arg, tc.optional, got, err)
			}
		})
	}
}

// runCLI runs the built binary and returns its stdout and exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binPath, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String() + errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func TestModelsLineageAndVerifyCLI(t *testing.T) {
	dataDir := t.TempDir()
	p := startServer(t, dataDir)
	t.Cleanup(p.kill9)
	must := func(path string, body any) map[string]any {
		t.Helper()
		out, err := p.post(path, body)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	exp := must("experiments/create", map[string]any{"name": "cli"})["experiment_id"].(string)
	run := must("runs/create", map[string]any{"experiment_id": exp, "tags": []map[string]string{
		{"key": "mlflow.source.git.commit", "value": "abc"}, {"key": "mlflow.source.name", "value": "train.py"}}})
	runID := run["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	must("runs/log-parameter", map[string]any{"run_id": runID, "key": "alpha", "value": "0.5"})
	pickle := "weights"
	for name, body := range map[string]string{"MLmodel": "flavors: {}\n", "model.pkl": pickle, "requirements.txt": "numpy\n"} {
		req, _ := http.NewRequest("PUT", p.base+"/api/2.0/mlflow-artifacts/artifacts/"+exp+"/"+runID+"/artifacts/model/"+name, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload %s: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}
	must("registered-models/create", map[string]any{"name": "fraud"})
	must("model-versions/create", map[string]any{"name": "fraud", "run_id": runID,
		"source": "mlflow-artifacts:/" + exp + "/" + runID + "/artifacts/model"})
	must("registered-models/alias", map[string]any{"name": "fraud", "alias": "champion", "version": "1"})
	server := "--server=" + p.base

	out, code := runCLI(t, "models", "lineage", "fraud@champion", "-o", "json", server)
	var l struct {
		Version struct{ Version string } `json:"version"`
		Run     struct {
			Params map[string]string `json:"params"`
		} `json:"run"`
		Environment []struct{ Content string } `json:"environment"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Version.Version != "1" ||
		l.Run.Params["alpha"] != "0.5" || len(l.Environment) != 1 || l.Environment[0].Content != "numpy\n" {
		t.Fatalf("lineage = %d %s", code, out)
	}
	out, code = runCLI(t, "models", "reproduce", "fraud/1", server)
	for _, want := range []string{"git checkout abc", "pip install -r requirements.txt", "numpy", "python train.py \\\n  --alpha=0.5"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("reproduce = %d, want %q in:\n%s", code, want, out)
		}
	}
	if out, code = runCLI(t, "models", "verify", "fraud", server); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("verify of an intact model = %d %s", code, out)
	}

	sum := sha256.Sum256([]byte(pickle))
	hx := hex.EncodeToString(sum[:])
	obj := filepath.Join(dataDir, "content", "cas", "objects", "sha256", hx[:2], hx)
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("WEIGHTS"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runCLI(t, "models", "verify", "fraud", server); code != 1 || !strings.Contains(out, "model.pkl") {
		t.Errorf("verify of a corrupt model = %d %s, want 1 naming model.pkl", code, out)
	}
	if out, code = runCLI(t, "models", "verify", "nope", server); code != 3 {
		t.Errorf("verify of a missing model = %d %s, want 3", code, out)
	}
	if out, code = runCLI(t, "models", "lineage", "fraud/9", server); code != 3 {
		t.Errorf("lineage of a missing version = %d %s, want 3", code, out)
	}
}
