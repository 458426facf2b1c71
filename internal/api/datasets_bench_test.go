package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/server"
)

// BenchmarkRegisterDataset posts the CSV named by MLSHIP_BENCH_CSV to the
// registration route, as mlship data add does: the whole server path (body,
// content store, profiler), to profile with -cpuprofile.
func BenchmarkRegisterDataset(b *testing.B) {
	path := os.Getenv("MLSHIP_BENCH_CSV")
	if path == "" {
		b.Skip("set MLSHIP_BENCH_CSV to a CSV file")
	}
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	if err := cfg.Resolve(); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	b.SetBytes(info.Size())
	for i := 0; b.Loop(); i++ {
		postFile(b, ts.URL+"/api/v1/datasets/bench"+strconv.Itoa(i)+"/versions?file=data.csv", path, info.Size())
	}
}

func postFile(b *testing.B, url, path string, size int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	req, err := http.NewRequest("POST", url, f)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
