package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// api is the few requests the benchmark sends to a server.
type api struct {
	base   string
	client *http.Client
}

func (a *api) do(ctx context.Context, method, path, contentType string, header map[string]string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, benchkit.LastBytes(b, 300))
	}
	return b, nil
}

func (a *api) createExperiment(ctx context.Context, prefix string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": prefix + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	b, err := a.do(ctx, http.MethodPost, "/api/2.0/mlflow/experiments/create", "application/json", nil, body)
	if err != nil {
		return "", err
	}
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ExperimentID == "" {
		return "", fmt.Errorf("experiments/create: no experiment_id in %s", benchkit.LastBytes(b, 200))
	}
	return out.ExperimentID, nil
}

// postSpans sends one OTLP/HTTP protobuf export request to the experiment.
func (a *api) postSpans(ctx context.Context, experimentID string, body []byte) error {
	_, err := a.do(ctx, http.MethodPost, "/v1/traces", "application/x-protobuf",
		map[string]string{"x-mlflow-experiment-id": experimentID}, body)
	return err
}

// traceName is the name of the root span of trace i and the mlflow.traceName tag
// that searches filter on; names go round nameCount values.
const nameCount = 10

func traceName(i int) string { return "bench-" + strconv.Itoa(i%nameCount) }

// exportBody builds an ExportTraceServiceRequest of traces traces of spans spans each:
// a root span and spans-1 children, with fresh random ids, the first trace starting at
// startMs and each next one stepMs later; trace first+k gets traceName(first+k). The
// root carries mlflow.traceTag.mlflow.traceName, which is how MLflow's OTLP ingest
// learns a trace's name (mlship takes it from the root span's name).
func exportBody(first, traces, spans int, startMs, stepMs int64) ([]byte, error) {
	all := make([]*tracepb.Span, 0, traces*spans)
	ids := make([]byte, traces*(16+8*spans))
	if _, err := rand.Read(ids); err != nil {
		return nil, err
	}
	for t := range traces {
		id := ids[t*(16+8*spans):][:16+8*spans]
		traceID, rootID := id[:16], id[16:24]
		name := traceName(first + t)
		start := uint64(startMs+int64(t)*stepMs) * 1e6
		end := start + uint64(spans+1)*1e6
		all = append(all, &tracepb.Span{
			TraceId: traceID, SpanId: rootID, Name: name, Kind: tracepb.Span_SPAN_KIND_INTERNAL,
			StartTimeUnixNano: start, EndTimeUnixNano: end,
			Attributes: []*commonpb.KeyValue{
				strAttr("mlflow.traceTag.mlflow.traceName", name),
				strAttr("mlflow.spanType", `"CHAIN"`),
				strAttr("mlflow.spanInputs", `{"question": "what is mlship?"}`),
				strAttr("mlflow.spanOutputs", `{"answer": "one Go binary"}`),
			},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
		})
		for s := 1; s < spans; s++ {
			all = append(all, &tracepb.Span{
				TraceId: traceID, SpanId: id[16+8*s:][:8], ParentSpanId: rootID,
				Name: "step-" + strconv.Itoa(s), Kind: tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano: start + uint64(s)*1e6, EndTimeUnixNano: start + uint64(s+1)*1e6,
				Attributes: []*commonpb.KeyValue{
					strAttr("mlflow.spanType", `"LLM"`),
					strAttr("mlflow.spanInputs", `{"prompt": "step `+strconv.Itoa(s)+`"}`),
					strAttr("mlflow.spanOutputs", `"ok"`),
				},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
			})
		}
	}
	// TracesData is ExportTraceServiceRequest on the wire (resource_spans = 1), without
	// the collector package's gRPC dependencies.
	return proto.Marshal(&tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "bench/traces"}, Spans: all}},
	}}})
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// ingestWindow is one measured ingest window.
type ingestWindow struct {
	Requests    int              `json:"requests"`
	Errors      int              `json:"errors"`
	Spans       int              `json:"spans"`
	Seconds     float64          `json:"seconds"`
	SpansPerSec float64          `json:"spans_per_sec"`
	LatencyMs   benchkit.Latency `json:"latency_ms"`
	// ServerCPUSeconds is the server's CPU time (all its processes) in the window;
	// ClientCPUSeconds the benchmark's own, which shares the machine.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	ErrorSample      string  `json:"error_sample,omitempty"`
}

// measureIngest runs cfg.clients clients that each build a fresh request and send it,
// over and over: cfg.warmup unmeasured, then cfg.duration measured. A request counts
// when it started inside the window; the window lasts until the last one has ended.
func measureIngest(ctx context.Context, cfg config, a *api, exp string, pid int) (ingestWindow, error) {
	var w ingestWindow
	perReq := cfg.tracesPerRequest * cfg.spans
	var (
		mu        sync.Mutex
		latencies []time.Duration
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		seq       atomic.Int64
	)
	for range cfg.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				n := int(seq.Add(1))
				body, err := exportBody(n*cfg.tracesPerRequest, cfg.tracesPerRequest, cfg.spans, time.Now().UnixMilli(), 1)
				if err != nil {
					panic(err)
				}
				counted := measuring.Load()
				t0 := time.Now()
				err = a.postSpans(ctx, exp, body)
				d := time.Since(t0)
				if !counted {
					continue
				}
				mu.Lock()
				w.Requests++
				if err != nil {
					w.Errors++
					if w.ErrorSample == "" {
						w.ErrorSample = err.Error()
					}
				} else {
					w.Spans += perReq
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		}()
	}
	sleep(ctx, cfg.warmup)
	cpu0, self0, t0 := benchkit.TreeCPU(pid), selfCPU(), time.Now()
	measuring.Store(true)
	sleep(ctx, cfg.duration)
	stop.Store(true)
	wg.Wait()
	w.Seconds = time.Since(t0).Seconds()
	w.ServerCPUSeconds, w.ClientCPUSeconds = benchkit.TreeCPU(pid)-cpu0, selfCPU()-self0
	if err := ctx.Err(); err != nil {
		return w, err
	}
	w.SpansPerSec = float64(w.Spans) / w.Seconds
	w.LatencyMs = benchkit.SummarizeLatency(latencies)
	if w.Spans == 0 {
		return w, fmt.Errorf("ingest: no request succeeded: %s", w.ErrorSample)
	}
	return w, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// seedResult is how seeding the searched experiment went (not a result).
type seedResult struct {
	Traces           int     `json:"traces"`
	Seconds          float64 `json:"seconds"`
	Retries          int     `json:"retries"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	base             int64   // the first trace's start, in ms; trace i starts i ms later
}

// seedSearch sends cfg.searchTraces traces of 2 spans to the experiment through
// /v1/traces, cfg.seedBatch a request, from cfg.seedClients clients: trace i starts
// i ms after the first, and is named traceName(i). A failed request is retried up to
// 4 times (and counted).
func seedSearch(ctx context.Context, cfg config, a *api, exp string, pid int, logger *log.Logger, target string) (seedResult, error) {
	res := seedResult{Traces: cfg.searchTraces, base: time.Now().Add(-time.Hour).UnixMilli()}
	batches := (cfg.searchTraces + cfg.seedBatch - 1) / cfg.seedBatch
	next := atomic.Int64{}
	var retries atomic.Int64
	errc := make(chan error, cfg.seedClients)
	cpu0, t0 := benchkit.TreeCPU(pid), time.Now()
	var wg sync.WaitGroup
	for range cfg.seedClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return
				}
				first := b * cfg.seedBatch
				n := min(cfg.seedBatch, cfg.searchTraces-first)
				body, err := exportBody(first, n, 2, res.base+int64(first), 1)
				if err != nil {
					errc <- err
					return
				}
				for attempt := 0; ; attempt++ {
					if err = a.postSpans(ctx, exp, body); err == nil || attempt == 4 {
						break
					}
					retries.Add(1)
				}
				if err != nil {
					errc <- fmt.Errorf("seeding: %w", err)
					return
				}
				if (b+1)%max(1, batches/10) == 0 {
					logger.Printf("%s: seeded %d of %d traces in %.0f s", target, min((b+1)*cfg.seedBatch, cfg.searchTraces), cfg.searchTraces, time.Since(t0).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Seconds, res.ServerCPUSeconds, res.Retries = time.Since(t0).Seconds(), benchkit.TreeCPU(pid)-cpu0, int(retries.Load())
	return res, nil
}

// searchBody is the body of MLflow's Python client's search_traces call
// (TracingClient.search_traces -> SearchTracesV3): the experiment as a location, a
// filter, order_by and a page size.
func searchBody(exp, filter string) []byte {
	b, _ := json.Marshal(map[string]any{
		"locations":   []any{map[string]any{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": map[string]string{"experiment_id": exp}}},
		"filter":      filter,
		"max_results": 100,
		"order_by":    []string{"timestamp_ms DESC"},
	})
	return b
}

// searchFilter is search i's filter: one of the nameCount names (a tenth of the
// traces each) and traces started after a cut between a quarter and three quarters of
// the way through the seeded ones, so that every search matches thousands and returns
// a full page.
func searchFilter(i, traces int, base int64) string {
	cut := base + int64(traces/4+(i*7919)%(traces/2))
	return fmt.Sprintf("tags.`mlflow.traceName` = '%s' AND trace.timestamp_ms > %d", traceName(i), cut)
}

// searchResult is the search measurement of one server.
type searchResult struct {
	Searches         int              `json:"searches"`
	LatencyMs        benchkit.Latency `json:"latency_ms"`
	ServerCPUSeconds float64          `json:"server_cpu_seconds"`
	Filter           string           `json:"filter_example"`
}

// measureSearch sends 10 unmeasured searches, then cfg.searches measured ones, one at
// a time; every answer must be a page of 100 traces.
func measureSearch(ctx context.Context, cfg config, a *api, exp string, pid int, base int64) (searchResult, error) {
	res := searchResult{Searches: cfg.searches, Filter: searchFilter(0, cfg.searchTraces, base)}
	var lat []time.Duration
	var cpu0 float64
	for i := -10; i < cfg.searches; i++ {
		if i == 0 {
			cpu0 = benchkit.TreeCPU(pid)
		}
		body := searchBody(exp, searchFilter(i+10, cfg.searchTraces, base))
		t0 := time.Now()
		b, err := a.do(ctx, http.MethodPost, "/api/3.0/mlflow/traces/search", "application/json", nil, body)
		d := time.Since(t0)
		if err != nil {
			return res, err
		}
		var page struct {
			Traces []json.RawMessage `json:"traces"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return res, fmt.Errorf("traces/search: %w", err)
		}
		if len(page.Traces) != 100 {
			return res, fmt.Errorf("traces/search %s: %d traces, want a page of 100", body, len(page.Traces))
		}
		if i >= 0 {
			lat = append(lat, d)
		}
	}
	res.ServerCPUSeconds = benchkit.TreeCPU(pid) - cpu0
	res.LatencyMs = benchkit.SummarizeLatency(lat)
	return res, nil
}

// selfCPU is this process's CPU time in seconds.
func selfCPU() float64 { return benchkit.ProcessCPU(os.Getpid()) }
