package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// rowResult is one protocol of one server under load: a row of the report.
type rowResult struct {
	Server          string           `json:"server"`
	Runtime         string           `json:"runtime,omitempty"`
	Variant         string           `json:"variant,omitempty"`
	Protocol        string           `json:"protocol"`
	Path            string           `json:"path"`
	Requests        int              `json:"requests"` // started inside the measured window
	OK              int              `json:"ok"`       // 2xx
	Non2xx          int              `json:"non_2xx"`
	TransportErrors int              `json:"transport_errors"`
	WrongAnswers    int              `json:"wrong_answers"` // 2xx whose labels were wrong, of those checked
	Checked         int              `json:"answers_checked"`
	ErrorRate       float64          `json:"error_rate"`
	Seconds         float64          `json:"seconds"`
	ReqPerSec       float64          `json:"req_per_sec"` // 2xx per second
	LatencyMs       benchkit.Latency `json:"latency_ms"`
	WarmupRequests  int              `json:"warmup_requests"`
	ServerCPU       float64          `json:"server_cpu_cores"` // CPU the server's process group used, in cores
	CPUPerRequestMs float64          `json:"server_cpu_ms_per_request"`
	ClientCPU       float64          `json:"load_tool_cpu_cores"` // CPU the load tool itself used, in cores
	LoadAvg         string           `json:"loadavg_before"`
	ErrorSamples    []string         `json:"error_samples,omitempty"`
	// RunsReqPerSec is every run's req/s, in the order they ran. The row's req/s,
	// latency and CPU are the median run's; its request and error counts are all runs'.
	RunsReqPerSec []float64 `json:"runs_req_per_sec"`
}

func (r *rowResult) label() string { return rowLabel(r.Server, r.Runtime, r.Variant) }

// medianRun is the run with the median req/s (the lower of the two middle ones for an
// even count), with the requests, errors and checks of every run added up.
func medianRun(runs []rowResult) rowResult {
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(runs[a].ReqPerSec, runs[b].ReqPerSec) })
	med := runs[order[(len(runs)-1)/2]]
	med.Requests, med.OK, med.Non2xx, med.TransportErrors, med.WrongAnswers, med.Checked, med.WarmupRequests = 0, 0, 0, 0, 0, 0, 0
	med.ErrorSamples = nil
	for _, r := range runs {
		med.RunsReqPerSec = append(med.RunsReqPerSec, r.ReqPerSec)
		med.Requests += r.Requests
		med.OK += r.OK
		med.Non2xx += r.Non2xx
		med.TransportErrors += r.TransportErrors
		med.WrongAnswers += r.WrongAnswers
		med.Checked += r.Checked
		med.WarmupRequests += r.WarmupRequests
		for _, s := range r.ErrorSamples {
			if len(med.ErrorSamples) < maxErrorSamples && !slices.Contains(med.ErrorSamples, s) {
				med.ErrorSamples = append(med.ErrorSamples, s)
			}
		}
	}
	med.ErrorRate = 0
	if med.Requests > 0 {
		med.ErrorRate = float64(med.Non2xx+med.TransportErrors) / float64(med.Requests)
	}
	return med
}

// newHTTPClient keeps an idle keep-alive connection for every client, so that the
// steady state opens no connections. Proxies from the environment are ignored, and
// responses are not compressed (MLServer would gzip larger ones by default).
func newHTTPClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * concurrency,
			MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// verify sends the measured row alone, then every check row in one request, and wants
// the labels that scikit-learn (or onnxruntime) predicted for them.
func verify(ctx context.Context, client *http.Client, baseURL string, ep endpoint) error {
	for _, c := range []struct {
		body []byte
		want []int64
	}{{ep.Body, ep.Want[:1]}, {ep.Check, ep.Want}} {
		var answer bytes.Buffer
		status, err := send(ctx, client, baseURL+ep.Path, c.body, &answer)
		if err != nil {
			return err
		}
		body := answer.Bytes()
		if status/100 != 2 {
			return fmt.Errorf("status %d: %.300s", status, body)
		}
		got, err := labels(ep.Protocol, body)
		if err != nil {
			return err
		}
		if !slices.Equal(got, c.want) {
			return fmt.Errorf("predicted %v, want %v (response %.300s)", got, c.want, body)
		}
	}
	return nil
}

// tally is one client's count; each client owns its own, so none is shared.
type tally struct {
	ok, non2xx, transport, warmup int
	wrong, checked                int
	latencies                     []time.Duration
	lastEnd                       time.Time
	samples                       []string
}

const maxErrorSamples = 3

// checkEvery is how often, in a client's requests, an answer is read and checked under
// load: a server that answered 200 with a wrong prediction must not count as fast.
const checkEvery = 16

// measure runs a closed loop: every client sends the body, reads the whole answer and
// sends again, through the warm-up and the window without a pause. Requests started
// inside the window count; the rate is taken over the time from the window's start to
// the end of the last of them, so slow requests are neither dropped nor flattered.
// The CPU used by the server (leader and its processes) and by the load tool is read
// over the window.
func measure(ctx context.Context, ep endpoint, baseURL string, cfg config, leader int) rowResult {
	loadBefore := benchkit.LoadAvg()
	windowStart := time.Now().Add(cfg.warmup)
	windowEnd := windowStart.Add(cfg.duration)
	tallies := make([]tally, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() { tallies[i] = drive(ctx, cfg.timeout, baseURL, ep, windowStart, windowEnd) })
	}
	select {
	case <-time.After(time.Until(windowStart)):
	case <-ctx.Done():
	}
	cpuStart, serverStart := processCPU(), serverCPU(leader)
	wg.Wait()
	r := summarize(tallies, windowStart)
	r.LoadAvg = loadBefore
	if r.Seconds > 0 {
		r.ClientCPU = (processCPU() - cpuStart) / r.Seconds
		r.ServerCPU = (serverCPU(leader) - serverStart) / r.Seconds
	}
	if r.OK > 0 {
		r.CPUPerRequestMs = r.ServerCPU * r.Seconds * 1000 / float64(r.OK)
	}
	return r
}

func drive(ctx context.Context, timeout time.Duration, baseURL string, ep endpoint, windowStart, windowEnd time.Time) tally {
	var t tally
	var answer bytes.Buffer
	client, err := newRawClient(baseURL, ep.Path, ep.Body, timeout)
	if err != nil {
		t.transport++
		t.sample(err.Error())
		return t
	}
	defer client.close()
	for n := 0; ctx.Err() == nil; n++ {
		begin := time.Now()
		if !begin.Before(windowEnd) {
			break
		}
		answer.Reset()
		status, err := client.do(ctx, &answer)
		end := time.Now()
		if begin.Before(windowStart) {
			t.warmup++
			continue
		}
		t.lastEnd = end
		switch {
		case err != nil:
			t.transport++
			t.sample(err.Error())
			// A refused connection fails in microseconds; don't spin on it.
			time.Sleep(10 * time.Millisecond)
		case status/100 != 2:
			t.non2xx++
			t.sample(fmt.Sprintf("status %d", status))
		default:
			t.ok++
			t.latencies = append(t.latencies, end.Sub(begin))
			if n%checkEvery == 0 {
				t.check(ep, answer.Bytes())
			}
		}
	}
	return t
}

// send posts body and reads the answer to the end into answer, which also keeps the
// connection reusable.
func send(ctx context.Context, client *http.Client, url string, body []byte, answer *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := answer.ReadFrom(resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// check counts a 2xx answer whose labels are not the measured row's.
func (t *tally) check(ep endpoint, answer []byte) {
	t.checked++
	got, err := labels(ep.Protocol, answer)
	if err == nil && !slices.Equal(got, ep.Want[:1]) {
		err = fmt.Errorf("wrong answer: predicted %v, want %v", got, ep.Want[:1])
	}
	if err != nil {
		t.wrong++
		t.sample(err.Error())
	}
}

func (t *tally) sample(s string) {
	if len(t.samples) < maxErrorSamples && !slices.Contains(t.samples, s) {
		t.samples = append(t.samples, s)
	}
}

func summarize(tallies []tally, windowStart time.Time) rowResult {
	var r rowResult
	var all []time.Duration
	last := windowStart
	for _, t := range tallies {
		r.OK += t.ok
		r.Non2xx += t.non2xx
		r.TransportErrors += t.transport
		r.WarmupRequests += t.warmup
		r.WrongAnswers += t.wrong
		r.Checked += t.checked
		all = append(all, t.latencies...)
		if t.lastEnd.After(last) {
			last = t.lastEnd
		}
		for _, s := range t.samples {
			if len(r.ErrorSamples) < maxErrorSamples && !slices.Contains(r.ErrorSamples, s) {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	r.Requests = r.OK + r.Non2xx + r.TransportErrors
	r.Seconds = last.Sub(windowStart).Seconds()
	if r.Seconds > 0 {
		r.ReqPerSec = float64(r.OK) / r.Seconds
	}
	if r.Requests > 0 {
		r.ErrorRate = float64(r.Non2xx+r.TransportErrors) / float64(r.Requests)
	}
	r.LatencyMs = benchkit.SummarizeLatency(all)
	return r
}

// processCPU is the CPU time, user and system, that this process has used, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
