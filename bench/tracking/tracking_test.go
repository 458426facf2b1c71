package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "mlship,mlflow", want: []string{"mlflow", "mlship"}},
		{in: " mlship ", want: []string{"mlship"}},
		{in: "mlflow,,", want: []string{"mlflow"}},
		{in: "", wantErr: true},
		{in: "postgres", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := benchkit.ParseList("targets", tt.in, allTargets)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("benchkit.ParseList(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct{ p, wantMs int }{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {0, 1}} {
		if got := benchkit.Percentile(d, tt.p); got != time.Duration(tt.wantMs)*time.Millisecond {
			t.Errorf("percentile(1..100ms, %d) = %v, want %dms", tt.p, got, tt.wantMs)
		}
	}
	if got := benchkit.Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one value = %v, want 7", got)
	}
}

func TestMeasureCountsOnlySuccesses(t *testing.T) {
	var n atomic.Int64
	s := func(context.Context) error {
		time.Sleep(time.Millisecond)
		if n.Add(1)%4 == 0 {
			return &statusError{code: 500, body: "boom"}
		}
		return nil
	}
	r := measure(context.Background(), []step{s, s}, 100*time.Millisecond)
	if r.Successes == 0 || r.Errors == 0 || r.Requests != r.Successes+r.Errors {
		t.Fatalf("got %+v, want both successes and errors that add up", r)
	}
	if want := []string{"HTTP 500: boom"}; !slices.Equal(r.ErrorSamples, want) {
		t.Errorf("error samples %q, want %q", r.ErrorSamples, want)
	}
	if r.Seconds < 0.1 || r.ReqPerSec != float64(r.Successes)/r.Seconds {
		t.Errorf("rate %v over %vs does not match %d successes", r.ReqPerSec, r.Seconds, r.Successes)
	}
}

// TestLogBatchClientNeverRepeatsParamKeys checks that a client logs fresh param keys to
// each run and moves to a new run after batchesPerRun requests.
func TestLogBatchClientNeverRepeatsParamKeys(t *testing.T) {
	var mu sync.Mutex         // the handlers run on the server's goroutines
	seen := map[string]bool{} // run_id + "/" + param key
	runs := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/2.0/mlflow/runs/create", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		_ = json.NewEncoder(w).Encode(map[string]any{"run": map[string]any{"info": map[string]any{"run_id": fmt.Sprint("run", runs)}}})
	})
	mux.HandleFunc("POST /api/2.0/mlflow/runs/log-batch", func(w http.ResponseWriter, r *http.Request) {
		var b logBatchRequest
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Metrics) != 10 || len(b.Params) != 3 || len(b.Tags) != 5 {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range b.Params {
			k := b.RunID + "/" + p.Key
			if seen[k] {
				http.Error(w, "param logged twice: "+k, http.StatusBadRequest)
				return
			}
			seen[k] = true
		}
		_, _ = w.Write([]byte("{}"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := &logBatchClient{api: &api{base: srv.URL, client: srv.Client()}, exp: "1", perRun: 4, pool: []string{"pooled"}}
	for range 10 {
		if err := c.step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 30 || runs != 2 || c.inline != 2 {
		t.Errorf("logged %d params to %d created runs (%d inline), want 30 params, 2 created, 2 inline", len(seen), runs, c.inline)
	}
}

func TestRetryGivesUpAfterFiveTries(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Microsecond
	var retries atomic.Int64
	calls := 0
	err := retry(context.Background(), &retries, func() error { calls++; return &statusError{code: 400} })
	var se *statusError
	if !errors.As(err, &se) || calls != 5 || retries.Load() != 4 {
		t.Errorf("got %v after %d calls and %d retries, want the 400 after 5 calls and 4 retries", err, calls, retries.Load())
	}
	calls = 0
	err = retry(context.Background(), &retries, func() error {
		if calls++; calls < 3 {
			return errors.New("refused")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("got %v after %d calls, want success on the third", err, calls)
	}
}
