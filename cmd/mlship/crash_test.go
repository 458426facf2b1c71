package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// The kill -9 test: clients log metrics, params and artifacts while the server is
// killed without warning, several times over. After each restart every write the server
// acknowledged must be there, and the database must pass SQLite's integrity check.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlship-crash-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "mlship")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build mlship: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
}

func startServer(t *testing.T, dataDir string) *proc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := &proc{log: &bytes.Buffer{}, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.cmd = exec.Command(binPath, "server", "--port", fmt.Sprint(port), "--data-dir", dataDir)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	t.Fatalf("server did not become ready:\n%s", p.log)
	return nil
}

func (p *proc) kill9() {
	p.cmd.Process.Signal(os.Kill)
	p.cmd.Wait()
}

func (p *proc) post(path string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	resp, err := http.Post(p.base+"/api/2.0/mlflow/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %d %v", path, resp.StatusCode, out)
	}
	return out, nil
}

// acked records what the server acknowledged.
type acked struct {
	mu        sync.Mutex
	metrics   map[string][]float64 // run id -> values of metric "m", in order
	params    map[string]int       // run id -> number of params
	artifacts map[string]string    // key -> sha256
}

func (a *acked) addMetric(run string, v float64) {
	a.mu.Lock()
	a.metrics[run] = append(a.metrics[run], v)
	a.mu.Unlock()
}

// writeLoad logs from several clients until ctx ends, recording each acknowledged write.
func writeLoad(ctx context.Context, p *proc, expID string, a *acked) {
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := p.post("runs/create", map[string]any{"experiment_id": expID, "start_time": time.Now().UnixMilli()})
				if err != nil {
					return
				}
				run := out["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
				for i := 0; ctx.Err() == nil && i < 50; i++ {
					batch := map[string]any{"run_id": run,
						"metrics": []map[string]any{{"key": "m", "value": float64(i), "timestamp": 1000 + i, "step": i}},
						"params":  []map[string]any{{"key": fmt.Sprintf("p%d", i), "value": "v"}}}
					if _, err := p.post("runs/log-batch", batch); err != nil {
						return
					}
					a.addMetric(run, float64(i))
					a.mu.Lock()
					a.params[run]++
					a.mu.Unlock()
					if c == 0 && i%10 == 0 {
						putArtifact(p, fmt.Sprintf("%s/%s/artifacts/f%d.bin", expID, run, i), a)
					}
				}
			}
		})
	}
	wg.Wait()
}

func putArtifact(p *proc, key string, a *acked) {
	data := make([]byte, 256<<10+rand.IntN(1<<20))
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	req, _ := http.NewRequest(http.MethodPut, p.base+"/api/2.0/mlflow-artifacts/artifacts/"+key, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		sum := sha256.Sum256(data)
		a.mu.Lock()
		a.artifacts[key] = hex.EncodeToString(sum[:])
		a.mu.Unlock()
	}
}

func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test starts real servers")
	}
	dataDir := t.TempDir()
	a := &acked{metrics: map[string][]float64{}, params: map[string]int{}, artifacts: map[string]string{}}
	p := startServer(t, dataDir)
	out, err := p.post("experiments/create", map[string]any{"name": "crash"})
	if err != nil {
		t.Fatal(err)
	}
	expID := out["experiment_id"].(string)
	for round := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { writeLoad(ctx, p, expID, a); close(done) }()
		time.Sleep(time.Duration(700+rand.IntN(800)) * time.Millisecond)
		p.kill9()
		cancel()
		<-done
		p = startServer(t, dataDir)
		verify(t, p, a, expID, round)
	}
	p.kill9()
	checkIntegrity(t, filepath.Join(dataDir, "mlship.db"))
}

func verify(t *testing.T, p *proc, a *acked, expID string, round int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.metrics) == 0 {
		t.Fatalf("round %d: no write was acknowledged before the kill", round)
	}
	for run, values := range a.metrics {
		resp, err := http.Get(p.base + "/api/2.0/mlflow/metrics/get-history?run_id=" + run + "&metric_key=m")
		if err != nil {
			t.Fatal(err)
		}
		var h struct{ Metrics []struct{ Value float64 } }
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if len(h.Metrics) < len(values) {
			t.Fatalf("round %d: run %s has %d points after restart, %d were acknowledged", round, run, len(h.Metrics), len(values))
		}
		out, err := p.post("runs/search", map[string]any{"experiment_ids": []string{expID}, "filter": "attributes.run_id = '" + run + "'"})
		if err != nil {
			t.Fatal(err)
		}
		params := out["runs"].([]any)[0].(map[string]any)["data"].(map[string]any)["params"].([]any)
		if len(params) < a.params[run] {
			t.Fatalf("round %d: run %s has %d params, %d were acknowledged", round, run, len(params), a.params[run])
		}
	}
	for key, want := range a.artifacts {
		resp, err := http.Get(p.base + "/api/2.0/mlflow-artifacts/artifacts/" + key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, resp.Body)
		resp.Body.Close()
		if got := hex.EncodeToString(h.Sum(nil)); resp.StatusCode != 200 || got != want {
			t.Fatalf("round %d: artifact %s: status %d, sha256 %s, want %s", round, key, resp.StatusCode, got, want)
		}
	}
	t.Logf("round %d: %d runs, %d artifacts verified", round, len(a.metrics), len(a.artifacts))
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}
