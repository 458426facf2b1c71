package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/mlship/mlship/bench/internal/benchkit"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--targets", "mlship", "--clients", "2", "--search-traces", "5000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.targets) != 1 || cfg.targets[0] != "mlship" || cfg.clients != 2 || cfg.searchTraces != 5000 || cfg.spans != 10 {
		t.Fatalf("parsed %+v", cfg)
	}
	for _, bad := range [][]string{
		{"--targets", "postgres"},
		{"--clients", "0"},
		{"--search-traces", "100"},
		{"--duration", "0s"},
		{"-o", "yaml"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestExportBody(t *testing.T) {
	b, err := exportBody(20, 3, 4, 1000, 5)
	if err != nil {
		t.Fatal(err)
	}
	var data tracepb.TracesData
	if err := proto.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	spans := data.ResourceSpans[0].ScopeSpans[0].Spans
	if len(spans) != 12 {
		t.Fatalf("%d spans, want 12", len(spans))
	}
	traces := map[string]bool{}
	for i, sp := range spans {
		traces[string(sp.TraceId)] = true
		if i%4 == 0 {
			if len(sp.ParentSpanId) != 0 || sp.Name != traceName(20+i/4) || sp.StartTimeUnixNano != uint64(1000+5*(i/4))*1e6 {
				t.Errorf("root %d: parent %x name %q start %d", i, sp.ParentSpanId, sp.Name, sp.StartTimeUnixNano)
			}
			if sp.Attributes[0].Key != "mlflow.traceTag.mlflow.traceName" || sp.Attributes[0].Value.GetStringValue() != sp.Name {
				t.Errorf("root %d: first attribute %v", i, sp.Attributes[0])
			}
		} else if !bytes.Equal(sp.ParentSpanId, spans[i-i%4].SpanId) {
			t.Errorf("span %d: parent is not its trace's root", i)
		}
	}
	if len(traces) != 3 {
		t.Errorf("%d trace ids, want 3", len(traces))
	}
}

func TestSearchFilterMatchesAPage(t *testing.T) {
	const traces, base = 4000, int64(1_000_000)
	for i := range 50 {
		f := searchFilter(i, traces, base)
		var cut int64
		name := traceName(i)
		if !strings.Contains(f, "tags.`mlflow.traceName` = '"+name+"' AND trace.timestamp_ms > ") {
			t.Fatalf("filter %q", f)
		}
		_, after, _ := strings.Cut(f, "> ")
		for _, c := range after {
			cut = cut*10 + int64(c-'0')
		}
		matches := 0
		for k := range traces {
			if traceName(k) == name && base+int64(k) > cut {
				matches++
			}
		}
		if matches < 100 {
			t.Fatalf("filter %q matches %d seeded traces, fewer than a page", f, matches)
		}
	}
}

func TestReportText(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep := report{Config: reportConfig(cfg), Targets: []targetResult{
		{Name: "mlflow", Ingest: []ingestWindow{{SpansPerSec: 900, Spans: 9000}, {SpansPerSec: 1000, Spans: 10000, ServerCPUSeconds: 20}, {SpansPerSec: 1100}},
			Search: searchResult{Searches: 100, LatencyMs: benchkit.Latency{P50: 40, P95: 60}}},
		{Name: "mlship", Ingest: []ingestWindow{{SpansPerSec: 20000, Spans: 200000, ServerCPUSeconds: 10}},
			Search: searchResult{Searches: 100, LatencyMs: benchkit.Latency{P50: 8, P95: 12}}},
	}}
	for i := range rep.Targets {
		rep.Targets[i].summarize()
	}
	rep.computeRatios()
	if rep.IngestRatio != 20 || rep.SearchRatio != 5 {
		t.Fatalf("ratios %v %v, want 20 and 5", rep.IngestRatio, rep.SearchRatio)
	}
	var out bytes.Buffer
	rep.writeText(&out)
	for _, want := range []string{
		"| | mlflow | mlship | ratio |",
		"| ingest spans/s (median window) | 1000 | 20000 | 20.0x |",
		"| ingest server / client CPU s per 1,000 spans | 2.000 / 0.000 | 0.050 / 0.000 |  |",
		"| search p50 ms | 40.0 | 8.0 | 5.0x |",
		"mlflow: ingest windows 900, 1000, 1100 spans/s, 0 failed requests",
		"over 100,000 traces",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	rep.Targets[0].Ingest[0].Requests, rep.Targets[0].Ingest[0].Errors = 10, 1
	if rep.check() == nil {
		t.Error("check accepted 10% failed ingest requests")
	}
}
