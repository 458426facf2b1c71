package serving

import (
	"encoding/json"
	"net/url"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// Spec is what a user asks of a deployment. It is stored as given; defaults apply
// when it is loaded (see withDefaults).
type Spec struct {
	Name string `json:"name"`
	// Model names what to serve: models:/NAME@ALIAS (followed as the alias moves),
	// models:/NAME/VERSION, runs:/RUN_ID/PATH, or, for mlship serve, a local directory.
	Model string `json:"model"`
	// Runtime is auto (chosen from the model's format), python, r, onnx, or a
	// runtime the operator declared in the server's configuration (--runtimes-config).
	Runtime string `json:"runtime,omitempty"`
	// Command is refused: a deployment cannot carry a command line, since whoever
	// may create a deployment would run it on the host. It is read only to recognise
	// specs stored before commands became the operator's, which never run again.
	Command []string `json:"command,omitempty"`
	// Workers is the number of worker processes per model version.
	Workers  int      `json:"workers,omitempty"`
	Batching Batching `json:"batching"`
	// Timeout is the deadline of one request, unless the request asks for less.
	Timeout    Duration    `json:"timeout,omitempty"`
	Canary     *Canary     `json:"canary,omitempty"`
	Shadow     *Shadow     `json:"shadow,omitempty"`
	PayloadLog *PayloadLog `json:"payload_log,omitempty"`
	Monitoring *Monitoring `json:"monitoring,omitempty"`
	// Inference is who may call the deployment's inference routes: "authenticated"
	// (the default: with identities on, a credential with READ on the deployment) or
	// "public" (anyone, without credentials). Its management routes are never public.
	Inference string `json:"inference,omitempty"`
}

// Inference policies.
const (
	InferenceAuthenticated = "authenticated"
	InferencePublic        = "public"
)

// Public reports whether anyone may call the deployment's inference routes.
func (s Spec) Public() bool { return s.Inference == InferencePublic }

// Monitoring compares windows of the payload log with the data the served model
// learned from, and reports drift.
type Monitoring struct {
	// Window is the least time a window spans; default 1m.
	Window Duration `json:"window,omitempty"`
	// MinRows is the least rows a window needs before it is compared: a window that
	// has fewer waits for more; default 100.
	MinRows int `json:"min_rows,omitempty"`
	// Reference is the dataset version to compare with, NAME/VERSION; by default the
	// training data in the served model version's lineage.
	Reference string `json:"reference,omitempty"`
	// Webhook, if set, receives a POST when drift is found (once, until a window
	// without drift).
	Webhook string `json:"webhook,omitempty"`
}

// Canary sends a share of the traffic to a second model.
type Canary struct {
	Model  string  `json:"model"`
	Weight float64 `json:"weight"` // the share of requests, in [0, 1]
}

// Shadow mirrors a share of the requests to a candidate whose answers are recorded
// and discarded.
type Shadow struct {
	Model string  `json:"model"`
	Share float64 `json:"share"` // the share of requests mirrored, in [0, 1]
}

// PayloadLog samples requests and responses into the payload log.
type PayloadLog struct {
	SampleRate float64 `json:"sample_rate"` // in [0, 1]
}

// Defaults.
const (
	DefaultMaxBatchSize = 32
	DefaultMaxQueue     = 1024
	DefaultTimeout      = Duration(30 * time.Second)
	DefaultSampleRate   = 0.1
	maxWorkers          = 256
	maxBatchSize        = 1 << 16
	maxQueue            = 1 << 20
)

// ErrCommandInSpec refuses a spec that carries a command line.
var ErrCommandInSpec = fault.New(fault.Invalid, "a deployment cannot carry a command line: worker commands are declared by the operator "+
	"in the server's configuration (`mlship server --runtimes-config FILE`), and a deployment names one with \"runtime\"")

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// CheckName checks a deployment name: it appears in URL paths, so it is a plain token.
func CheckName(name string) error {
	if !namePattern.MatchString(name) || strings.Contains(name, "..") {
		return fault.Invalidf("invalid deployment name %q: use letters, digits, '_', '.' and '-' (at most 128, starting with a letter or digit, no '..')", name)
	}
	return nil
}

// Validate checks a spec as a user gave it.
func (s *Spec) Validate() error {
	if err := CheckName(s.Name); err != nil {
		return err
	}
	if strings.TrimSpace(s.Model) == "" {
		return fault.Invalidf("deployment %q names no model: set model to models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/PATH", s.Name)
	}
	if len(s.Command) > 0 {
		return ErrCommandInSpec
	}
	if s.Inference != "" && s.Inference != InferencePublic && s.Inference != InferenceAuthenticated {
		return fault.Invalidf("deployment %q: inference must be %q or %q, got %q", s.Name, InferenceAuthenticated, InferencePublic, s.Inference)
	}
	if s.Runtime != "" && !runtimeNamePattern.MatchString(s.Runtime) {
		return fault.Invalidf("invalid runtime %q: use auto, python, r, onnx or the name of a runtime the operator declared", s.Runtime)
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{s.Workers >= 0 && s.Workers <= maxWorkers, "workers must be between 1 and " + strconv.Itoa(maxWorkers)},
		{s.Batching.MaxBatchSize >= 0 && s.Batching.MaxBatchSize <= maxBatchSize, "batching.max_batch_size must be between 1 and " + strconv.Itoa(maxBatchSize)},
		{s.Batching.MaxQueue >= 0 && s.Batching.MaxQueue <= maxQueue, "batching.max_queue must be between 1 and " + strconv.Itoa(maxQueue)},
		{s.Batching.Concurrency >= 0 && s.Batching.Concurrency <= maxWorkers, "batching.concurrency must be between 1 and " + strconv.Itoa(maxWorkers)},
		{s.Batching.MaxDelay >= 0 && s.Batching.MaxDelay <= Duration(10*time.Second), "batching.max_delay must be between 0 and 10s"},
		{s.Timeout >= 0 && s.Timeout <= Duration(time.Hour), "timeout must be between 0 and 1h"},
		{s.Canary == nil || (s.Canary.Model != "" && s.Canary.Weight >= 0 && s.Canary.Weight <= 1), "canary needs a model and a weight between 0 and 1"},
		{s.Shadow == nil || (s.Shadow.Model != "" && s.Shadow.Share >= 0 && s.Shadow.Share <= 1), "shadow needs a model and a share between 0 and 1"},
		{s.PayloadLog == nil || (s.PayloadLog.SampleRate >= 0 && s.PayloadLog.SampleRate <= 1), "payload_log.sample_rate must be between 0 and 1"},
		{s.Monitoring == nil || (s.Monitoring.Window >= 0 && s.Monitoring.MinRows >= 0), "monitoring.window and monitoring.min_rows must not be negative"},
		{s.Monitoring == nil || validWebhook(s.Monitoring.Webhook), "monitoring.webhook must be an http:// or https:// URL"},
	}
	for _, c := range checks {
		if !c.ok {
			return fault.Invalidf("deployment %q: %s", s.Name, c.msg)
		}
	}
	return nil
}

// withDefaults fills what the user left out.
func (s Spec) withDefaults() Spec {
	if s.Runtime == "" {
		s.Runtime = "auto"
	}
	if s.Inference == "" {
		s.Inference = InferenceAuthenticated
	}
	if s.Workers == 0 {
		s.Workers = min(goruntime.NumCPU(), 8)
	}
	if s.Batching.MaxBatchSize == 0 {
		s.Batching.MaxBatchSize = DefaultMaxBatchSize
	}
	if s.Batching.MaxQueue == 0 {
		s.Batching.MaxQueue = DefaultMaxQueue
	}
	if s.Batching.Concurrency == 0 {
		s.Batching.Concurrency = s.Workers
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.PayloadLog == nil {
		s.PayloadLog = &PayloadLog{SampleRate: DefaultSampleRate}
	}
	return s
}

func validWebhook(u string) bool {
	if u == "" {
		return true
	}
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// Duration is a time.Duration that JSON reads from "250ms"-style strings or from a
// number of milliseconds, and writes as a string.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms float64
		if err := json.Unmarshal(b, &ms); err != nil {
			return fault.Invalidf("a duration is a string such as \"250ms\" or \"30s\", or a number of milliseconds")
		}
		*d = Duration(ms * float64(time.Millisecond))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fault.Invalidf("invalid duration %q: use a string such as \"250ms\" or \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}
