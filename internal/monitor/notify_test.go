package monitor

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/netguard"
)

// TestWebhookOutboundPolicy: a webhook on loopback is refused when the server connects
// (whatever the URL looked like when it was written), counted and not retried; with the
// address allowed it is delivered.
func TestWebhookOutboundPolicy(t *testing.T) {
	var calls atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	port := receiver.URL[strings.LastIndex(receiver.URL, ":")+1:]

	for _, tc := range []struct {
		name     string
		allowed  []string
		url      string
		outcome  string
		received int32
	}{
		{"refused by default", nil, receiver.URL + "/drift", "refused", 0},
		{"a name resolving to loopback", nil, "http://localhost:" + port + "/drift", "refused", 0},
		{"allowed by prefix", []string{"127.0.0.1/32"}, receiver.URL + "/drift", "delivered", 1},
		{"allowed by address and port", []string{"127.0.0.1:" + port}, receiver.URL + "/drift", "delivered", 1},
		{"another port is not allowed", []string{"127.0.0.1:1"}, receiver.URL + "/drift", "refused", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			policy, err := netguard.Parse(tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			m := New(Options{Outbound: policy, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
			m.notify(context.Background(), tc.url, &result{Deployment: "d"})
			if got := calls.Load(); got != tc.received {
				t.Errorf("the receiver got %d calls, want %d", got, tc.received)
			}
			if n := webhooks(t, reg, tc.outcome); n != 1 {
				t.Errorf("mlship_drift_webhooks_total{outcome=%q} = %v, want 1", tc.outcome, n)
			}
			if tc.outcome == "refused" {
				if err := m.CheckWebhook(tc.url); tc.url == receiver.URL+"/drift" && err == nil {
					t.Errorf("CheckWebhook(%s) accepted a literal loopback address", tc.url)
				}
			}
		})
	}
}

// webhooks reads mlship_drift_webhooks_total{deployment="d",outcome=outcome}.
func webhooks(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "mlship_drift_webhooks_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["deployment"] == "d" && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
