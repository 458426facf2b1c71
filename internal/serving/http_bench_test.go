package serving

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/httpx"
)

// BenchmarkInferNativeOIP measures the inference path in process, from the request
// bytes to the response bytes: a batch-1 Open Inference Protocol request to the
// benchmark's GradientBoosting model on the native ONNX runtime.
func BenchmarkInferNativeOIP(b *testing.B) {
	src, err := filepath.Abs("../onnx/testdata/models/bench_gradient_boosting.onnx")
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := NewManager(Options{Source: LocalSource{}, Metrics: NewMetrics(prometheus.NewRegistry()), Logger: logger,
		Runtimes: RuntimeConfig{Logger: logger}.Factory()})
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	d, err := m.Create(context.Background(), Spec{Name: "gb", Model: src, PayloadLog: &PayloadLog{}})
	if err != nil {
		b.Fatal(err)
	}
	for !d.Ready() {
		if st := d.Status(); st.State == "failed" {
			b.Fatal(st.Error)
		}
		time.Sleep(time.Millisecond)
	}
	mux := httpx.NewRouter(httpx.RouterOptions{})
	NewHandler(m, HTTPOptions{Single: "gb", Logger: logger}).Register(mux)
	meta, _, _ := d.Metadata()
	vals := strings.TrimSuffix(strings.Repeat("0.123456789012345,", 20), ",")
	body := []byte(`{"inputs":[{"name":"` + meta.Inputs[0].Name + `","shape":[1,20],"datatype":"FP32","data":[` + vals + `]}]}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/v2/models/gb/infer", bytes.NewReader(body))
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
