package serving

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Version is one exact model version a reference resolved to.
type Version struct {
	// Model and Version name it: the registered model and its version number, or a
	// run's model, or a local directory.
	Model   string `json:"model"`
	Version string `json:"version"`
	// Key identifies the exact files (a manifest digest, or a path); a reference that
	// resolves to another key is a new version to load.
	Key string `json:"key"`
}

// served is one model version loaded and serving in one role of a deployment.
type served struct {
	role    string
	version Version
	runtime string
	config  string // the version and settings it was loaded with; another means reload
	model   runtime.Model
	meta    runtime.Metadata
	batcher *batcher
	metrics *modelMetrics
	loaded  time.Time

	// mu is held for reading by every request in flight, so retire waits for them.
	mu     sync.RWMutex
	closed bool
}

// errRetired tells the router that the version it picked was swapped out meanwhile;
// it picks again.
var errRetired = errors.New("model version retired")

func (s *served) predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errRetired
	}
	start := time.Now()
	s.metrics.inFlight.Inc()
	resp, err := s.batcher.predict(ctx, req)
	s.metrics.inFlight.Dec()
	s.metrics.done(start)
	if err != nil {
		s.metrics.fail(failureReason(err))
	}
	return resp, err
}

func failureReason(err error) string {
	switch fault.KindOf(err) {
	case fault.Invalid, fault.TooLarge:
		return "invalid"
	case fault.Exhausted:
		return "queue_full"
	case fault.DeadlineExceeded:
		return "deadline"
	case fault.Unavailable:
		return "unavailable"
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return "internal"
}

// retire waits for the requests in flight, then unloads the model.
func (s *served) retire() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.batcher.close()
	s.metrics.forget()
	return s.model.Close()
}
