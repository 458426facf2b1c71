package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/mlship/mlship/bench/internal/benchkit"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// targetResult is everything measured against one server.
type targetResult struct {
	Name          string        `json:"name"`
	CreateVersion *createResult `json:"create_version,omitempty"`
	BigModel      *bigResult    `json:"big_model,omitempty"`
	Problems      []string      `json:"problems,omitempty"`
}

type createResult struct {
	Requests      int      `json:"requests"`
	Successes     int      `json:"successes"`
	Errors        int      `json:"errors"`
	Seconds       float64  `json:"seconds"`
	ReqPerSec     float64  `json:"req_per_sec"`
	P50Ms         float64  `json:"latency_p50_ms"`
	P99Ms         float64  `json:"latency_p99_ms"`
	Versions      int      `json:"versions_total"`
	VersionsCheck string   `json:"versions_check"`
	ErrorSamples  []string `json:"error_samples,omitempty"`
}

type bigResult struct {
	Files            int     `json:"files"`
	Bytes            int64   `json:"bytes"`
	UploadS          float64 `json:"upload_s"`
	RegisterS        float64 `json:"register_s"`
	DownloadS        float64 `json:"download_s"`
	DownloadURI      string  `json:"download_uri"`
	MemBaselineBytes int64   `json:"mem_baseline_bytes"`
	MemPeakBytes     int64   `json:"mem_peak_bytes"`
	MemGrowthBytes   int64   `json:"mem_growth_bytes"`
	MemHow           string  `json:"mem_how"`
	Verified         bool    `json:"sha256_verified"`
}

// benchTarget starts one server, runs both measurements and stops it.
func benchTarget(ctx context.Context, cfg config, name string, client *http.Client, logger *log.Logger) (targetResult, error) {
	logger.Printf("%s: starting server", name)
	srv, err := benchkit.StartServer(ctx, cfg.server(), name, client, logger)
	if err != nil {
		return targetResult{}, err
	}
	defer srv.Cleanup(cfg.keepData, logger)
	logger.Printf("%s: healthy at %s (data in %s)", name, srv.BaseURL, srv.Dir)
	a := &api{base: srv.BaseURL, client: client}
	res := targetResult{Name: name}

	cr, err := createVersions(ctx, cfg, a, logger)
	if err != nil {
		return res, fmt.Errorf("create_version: %w", err)
	}
	res.CreateVersion = &cr
	logger.Printf("%s create_version: %.1f req/s, %d errors, p50 %.1f ms, p99 %.1f ms, versions %s",
		name, cr.ReqPerSec, cr.Errors, cr.P50Ms, cr.P99Ms, cr.VersionsCheck)
	if cr.VersionsCheck != "ok" {
		res.Problems = append(res.Problems, "create_version: versions "+cr.VersionsCheck)
	}
	if cr.Successes == 0 {
		res.Problems = append(res.Problems, "create_version: no request succeeded")
	}
	if cfg.skipBig {
		return res, nil
	}
	br, err := bigModel(ctx, cfg, a, srv.PID(), logger)
	res.BigModel = &br
	if err != nil {
		// Reported beside the figures rather than aborting the other target.
		logger.Printf("%s big_model: FAILED: %v", name, err)
		res.Problems = append(res.Problems, "big_model: "+err.Error())
		return res, ctx.Err()
	}
	logger.Printf("%s big_model: upload %.1fs, register %.1fs, download %.1fs, memory growth %s",
		name, br.UploadS, br.RegisterS, br.DownloadS, mib(br.MemGrowthBytes))
	return res, nil
}

// uploadSmallModel puts a 3-file model under the run's artifacts at model/ and returns
// its source URI.
func uploadSmallModel(ctx context.Context, a *api, artifactURI string) (string, error) {
	root, err := proxyPath(artifactURI)
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"MLmodel":          "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.12.0\n",
		"model.pkl":        strings.Repeat("\x80\x04bench-model-weights", 200),
		"requirements.txt": "mlflow==3.17.2\nscikit-learn\n",
	}
	for f, body := range files {
		if err := a.upload(ctx, root+"/model/"+f, strings.NewReader(body), int64(len(body))); err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(artifactURI, "/") + "/model", nil
}

// createVersions measures concurrent model-versions/create for one registered model.
func createVersions(ctx context.Context, cfg config, a *api, logger *log.Logger) (createResult, error) {
	const model = "bench-create-version"
	runID, artifactURI, err := a.createRun(ctx)
	if err != nil {
		return createResult{}, err
	}
	source, err := uploadSmallModel(ctx, a, artifactURI)
	if err != nil {
		return createResult{}, err
	}
	if err := a.createRegisteredModel(ctx, model); err != nil {
		return createResult{}, err
	}
	logger.Printf("create_version: %d clients, source %s; warm-up %s, then %s", cfg.clients, source, cfg.warmup, cfg.duration)

	var mu sync.Mutex
	var versions []string
	type tally struct {
		ok, errs  int
		latencies []time.Duration
		samples   []string
	}
	drive := func(d time.Duration) ([]tally, time.Duration) {
		start := time.Now()
		deadline := start.Add(d)
		tallies := make([]tally, cfg.clients)
		var wg sync.WaitGroup
		for i := range tallies {
			wg.Go(func() {
				t := &tallies[i]
				for ctx.Err() == nil && time.Now().Before(deadline) {
					begin := time.Now()
					v, err := a.createVersion(ctx, model, source, runID)
					if err != nil {
						t.errs++
						if len(t.samples) < 3 {
							t.samples = append(t.samples, err.Error())
						}
						time.Sleep(10 * time.Millisecond)
						continue
					}
					t.ok++
					t.latencies = append(t.latencies, time.Since(begin))
					mu.Lock()
					versions = append(versions, v)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return tallies, time.Since(start)
	}
	if cfg.warmup > 0 {
		drive(cfg.warmup)
	}
	tallies, elapsed := drive(cfg.duration)
	if err := ctx.Err(); err != nil {
		return createResult{}, err
	}
	var r createResult
	var all []time.Duration
	for _, t := range tallies {
		r.Successes += t.ok
		r.Errors += t.errs
		all = append(all, t.latencies...)
		for _, s := range t.samples {
			if len(r.ErrorSamples) < 3 && !slices.Contains(r.ErrorSamples, s) {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	r.Requests = r.Successes + r.Errors
	r.Seconds = elapsed.Seconds()
	r.ReqPerSec = float64(r.Successes) / r.Seconds
	slices.Sort(all)
	if len(all) > 0 {
		r.P50Ms = benchkit.Millis(benchkit.Percentile(all, 50))
		r.P99Ms = benchkit.Millis(benchkit.Percentile(all, 99))
	}
	stored, err := a.searchVersions(ctx, model)
	if err != nil {
		return r, err
	}
	r.Versions = len(stored)
	r.VersionsCheck = checkVersions(versions, stored)
	return r, nil
}

// checkVersions returns "ok" when the versions handed out are distinct, the stored ones
// are exactly 1..N, and every version handed out is stored; otherwise what is wrong.
func checkVersions(handedOut, stored []string) string {
	toInts := func(vs []string) ([]int, error) {
		out := make([]int, len(vs))
		for i, v := range vs {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("version %q is not a number", v)
			}
			out[i] = n
		}
		slices.Sort(out)
		return out, nil
	}
	got, err := toInts(handedOut)
	if err != nil {
		return err.Error()
	}
	all, err := toInts(stored)
	if err != nil {
		return err.Error()
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			return fmt.Sprintf("FAILED: version %d handed out twice", got[i])
		}
	}
	for i, v := range all {
		if v != i+1 {
			return fmt.Sprintf("FAILED: stored versions are not 1..%d (position %d holds %d)", len(all), i+1, v)
		}
	}
	if len(got) > len(all) {
		return fmt.Sprintf("FAILED: %d versions handed out, %d stored", len(got), len(all))
	}
	// Versions whose create failed on the client side may be stored; handed-out ones must be.
	for _, v := range got {
		if v < 1 || v > len(all) {
			return fmt.Sprintf("FAILED: version %d handed out but not stored", v)
		}
	}
	return "ok"
}

// randomReader streams pseudo-random bytes from a seeded PCG, 8 bytes per draw.
type randomReader struct {
	rng  *rand.PCG
	left int64
	buf  [8]byte
	n    int // unread bytes at the end of buf
}

func newRandomReader(seed uint64, size int64) *randomReader {
	return &randomReader{rng: rand.NewPCG(seed, 0x6d6c73686970), left: size}
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	i := 0
	for i < len(p) {
		if r.n == 0 {
			binary.LittleEndian.PutUint64(r.buf[:], r.rng.Uint64())
			r.n = 8
		}
		c := copy(p[i:], r.buf[8-r.n:])
		r.n -= c
		i += c
	}
	r.left -= int64(len(p))
	return len(p), nil
}

// parallel runs fn(i) for i in [0, n) with at most k at once and returns the first error.
func parallel(ctx context.Context, n, k int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return context.Cause(ctx)
}

// bigModel uploads, registers and downloads a many-file model version.
func bigModel(ctx context.Context, cfg config, a *api, pid int, logger *log.Logger) (bigResult, error) {
	const model = "bench-big-model"
	r := bigResult{Files: cfg.files, Bytes: int64(cfg.files) * cfg.fileSize}
	runID, artifactURI, err := a.createRun(ctx)
	if err != nil {
		return r, err
	}
	root, err := proxyPath(artifactURI)
	if err != nil {
		return r, err
	}
	name := func(i int) string { return fmt.Sprintf("data/part-%04d.bin", i) }
	sums := make(map[string]string, cfg.files)
	var mu sync.Mutex

	logger.Printf("big_model: uploading %d x %s = %s, %d at once", cfg.files, benchkit.FormatSize(cfg.fileSize), mib(r.Bytes), cfg.parallel)
	start := time.Now()
	err = parallel(ctx, cfg.files, cfg.parallel, func(ctx context.Context, i int) error {
		h := sha256.New()
		body := io.TeeReader(newRandomReader(uint64(i), cfg.fileSize), h)
		if err := a.upload(ctx, root+"/bigmodel/"+name(i), body, cfg.fileSize); err != nil {
			return err
		}
		mu.Lock()
		sums[name(i)] = hex.EncodeToString(h.Sum(nil))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("upload: %w", err)
	}
	// A small MLmodel beside the data, as a real model directory has.
	mlmodel := "artifact_path: bigmodel\nflavors: {}\n"
	if err := a.upload(ctx, root+"/bigmodel/MLmodel", strings.NewReader(mlmodel), int64(len(mlmodel))); err != nil {
		return r, err
	}
	sums["MLmodel"] = fmt.Sprintf("%x", sha256.Sum256([]byte(mlmodel)))
	r.UploadS = time.Since(start).Seconds()
	logger.Printf("big_model: uploaded in %.1fs; registering", r.UploadS)

	if err := a.createRegisteredModel(ctx, model); err != nil {
		return r, err
	}
	mem := startMemSampler(pid)
	start = time.Now()
	version, err := a.createVersion(ctx, model, strings.TrimSuffix(artifactURI, "/")+"/bigmodel", runID)
	if err != nil {
		mem.finish()
		return r, err
	}
	r.RegisterS = time.Since(start).Seconds()
	logger.Printf("big_model: registered version %s in %.1fs; downloading", version, r.RegisterS)

	start = time.Now()
	err = downloadVersion(ctx, cfg, a, model, version, sums, &r)
	r.DownloadS = time.Since(start).Seconds()
	r.MemBaselineBytes, r.MemPeakBytes = mem.finish()
	r.MemGrowthBytes = r.MemPeakBytes - r.MemBaselineBytes
	r.MemHow = "VmRSS of the server's process group, sampled every 100 ms"
	if mem.hwmReset && !mem.hasChildren() {
		r.MemHow += ", and VmHWM (reset at the start)"
	}
	if err != nil {
		return r, fmt.Errorf("download: %w", err)
	}
	r.Verified = true
	return r, nil
}

// downloadVersion fetches every file of a version as MLflow's client does: the download
// URI, a listing, then the files, cfg.parallel at once, checking each sha256.
func downloadVersion(ctx context.Context, cfg config, a *api, model, version string, sums map[string]string, r *bigResult) error {
	uri, err := a.downloadURI(ctx, model, version)
	if err != nil {
		return err
	}
	r.DownloadURI = uri
	root, err := proxyPath(uri)
	if err != nil {
		return err
	}
	files, err := a.listFiles(ctx, root)
	if err != nil {
		return err
	}
	slices.Sort(files)
	want := make([]string, 0, len(sums))
	for f := range sums {
		want = append(want, f)
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		return fmt.Errorf("listing of %s has %d files, want %d (first: %q)", root, len(files), len(want), files[:min(3, len(files))])
	}
	return parallel(ctx, len(files), cfg.parallel, func(ctx context.Context, i int) error {
		h := sha256.New()
		n, err := a.download(ctx, root+"/"+files[i], h)
		if err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sums[files[i]] {
			return fmt.Errorf("%s: sha256 %s after %d bytes, uploaded %s", files[i], got, n, sums[files[i]])
		}
		return nil
	})
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
