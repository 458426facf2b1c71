package traces_test

import (
	"crypto/rand"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/traces"
	"github.com/mlship/mlship/internal/tracking"
)

// BenchmarkIngestSpans stores OTLP requests of 100 new traces of 10 spans each, as
// bench/traces sends them (decoded from protobuf, as the handler does), from 4
// concurrent writers on SQLite; one op is one request.
func BenchmarkIngestSpans(b *testing.B) {
	db := storetest.Open(b, "sqlite")
	ctx := b.Context()
	tr := tracking.New(db, tracking.Options{ArtifactRoot: "mlflow-artifacts:/"})
	if err := tr.Init(ctx); err != nil {
		b.Fatal(err)
	}
	s := traces.New(db, tr)
	exp, err := tr.CreateExperiment(ctx, "bench", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	const clients, perRequest, spans = 4, 100, 10
	reqs := make(chan []byte, b.N)
	for range b.N {
		body, err := proto.Marshal(benchRequest(perRequest, spans))
		if err != nil {
			b.Fatal(err)
		}
		reqs <- body
	}
	close(reqs)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for body := range reqs {
				var data tracepb.TracesData
				if err := proto.Unmarshal(body, &data); err != nil {
					b.Error(err)
				}
				if _, err := s.IngestEncodedSpans(ctx, exp, "", &data, body); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*perRequest*spans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N*perRequest*spans)*1000, "cpu-ms/1000spans")
}

func benchRequest(n, spans int) *tracepb.TracesData {
	all := make([]*tracepb.Span, 0, n*spans)
	for t := range n {
		id := make([]byte, 16+8*spans)
		rand.Read(id)
		traceID, rootID := id[:16], id[16:24]
		start := uint64(1_700_000_000_000+t) * 1e6
		name := "bench-" + strconv.Itoa(t%10)
		all = append(all, &tracepb.Span{TraceId: traceID, SpanId: rootID, Name: name,
			StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(spans+1)*1e6,
			Attributes: []*commonpb.KeyValue{benchAttr("mlflow.traceTag.mlflow.traceName", name), benchAttr("mlflow.spanType", `"CHAIN"`),
				benchAttr("mlflow.spanInputs", `{"question": "what is mlship?"}`), benchAttr("mlflow.spanOutputs", `{"answer": "one Go binary"}`)},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}})
		for s := 1; s < spans; s++ {
			all = append(all, &tracepb.Span{TraceId: traceID, SpanId: id[16+8*s:][:8], ParentSpanId: rootID,
				Name: "step-" + strconv.Itoa(s), StartTimeUnixNano: start + uint64(s)*1e6, EndTimeUnixNano: start + uint64(s+1)*1e6,
				Attributes: []*commonpb.KeyValue{benchAttr("mlflow.spanType", `"LLM"`),
					benchAttr("mlflow.spanInputs", `{"prompt": "step `+strconv.Itoa(s)+`"}`), benchAttr("mlflow.spanOutputs", `"ok"`)},
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}})
		}
	}
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: all}}}}}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

var _ = traces.MaxSpansPerWrite
