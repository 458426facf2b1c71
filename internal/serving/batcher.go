package serving

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Batching configures how requests to one model are queued and batched.
type Batching struct {
	// MaxBatchSize is the most rows one runtime call takes; 1 turns batching off.
	MaxBatchSize int `json:"max_batch_size,omitempty"`
	// MaxDelay is how long a batch may wait for more requests after its first one.
	// With 0 a batch takes only what is already queued: when the model is idle a
	// request runs at once, and under load batches grow by themselves.
	MaxDelay Duration `json:"max_delay,omitempty"`
	// MaxQueue is how many requests may wait; beyond it requests get 429.
	MaxQueue int `json:"max_queue,omitempty"`
	// Concurrency is how many batches run at once (the runtime's workers).
	Concurrency int `json:"concurrency,omitempty"`
	// RowWise says whether the model predicts each row on its own, so that rows of
	// different requests may share a batch. Unset takes the model's word: the native
	// ONNX engine and the row-wise flavors (scikit-learn, XGBoost, LightGBM...) say
	// yes, a custom pyfunc says no unless its MLmodel metadata has mlship_batchable.
	RowWise *bool `json:"row_wise,omitempty"`
}

// batchesAcrossRequests reports whether rows of different requests may share a batch.
func (c Batching) batchesAcrossRequests(md runtime.Metadata) bool {
	rowWise := md.Batchable
	if c.RowWise != nil {
		rowWise = *c.RowWise
	}
	return c.MaxBatchSize > 1 && rowWise
}

// call is one request waiting for its answer.
type call struct {
	ctx      context.Context
	req      *runtime.Request
	enqueued time.Time
	done     chan result
}

type result struct {
	resp *runtime.Response
	err  error
}

// batcher queues the requests to one model and runs them in batches on Concurrency
// long-lived executors. Each executor takes the first waiting request and every queued
// request that can join it, so while all executors are busy requests pile up and the
// next batch takes them all: batches adapt to the load, with no delay added at idle.
type batcher struct {
	model    runtime.Model
	cfg      Batching
	batching atomic.Bool // off for good once a model turns out not to predict row by row
	queue    chan *call
	metrics  *modelMetrics
	stop     chan struct{}
	stopped  sync.WaitGroup
}

var errQueueFull = fault.New(fault.Exhausted, "the model's queue is full; retry later")

func newBatcher(model runtime.Model, cfg Batching, mm *modelMetrics) *batcher {
	b := &batcher{
		model: model, cfg: cfg, metrics: mm,
		queue: make(chan *call, cfg.MaxQueue),
		stop:  make(chan struct{}),
	}
	md := model.Metadata()
	b.batching.Store(cfg.batchesAcrossRequests(md))
	// Unbatched, each request is a call of its own: as many executors as the workers
	// take calls at once keep every worker's next request waiting in its input.
	executors := max(cfg.Concurrency, 1)
	if !b.batching.Load() {
		executors *= max(md.InFlight, 1)
	}
	for range executors {
		b.stopped.Add(1)
		go b.executor()
	}
	return b
}

// predict queues req and waits for its answer or the end of ctx.
func (b *batcher) predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	c := &call{ctx: ctx, req: req, enqueued: time.Now(), done: make(chan result, 1)}
	select {
	case b.queue <- c:
	default:
		return nil, errQueueFull
	}
	select {
	case r := <-c.done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctxFault(ctx.Err())
	}
}

func ctxFault(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(fault.DeadlineExceeded, err, "the request did not finish within its deadline")
	}
	return err
}

// close stops the executors once their batches are done, and fails what is queued.
func (b *batcher) close() {
	close(b.stop)
	b.stopped.Wait()
	for {
		select {
		case c := <-b.queue:
			c.done <- result{err: fault.New(fault.Unavailable, "the model version was unloaded; retry")}
		default:
			return
		}
	}
}

// executor runs batches until the batcher stops. A queued call that could not join
// a batch starts the executor's next one.
func (b *batcher) executor() {
	defer b.stopped.Done()
	var next *call
	for {
		first := next
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				return
			}
		}
		var batch []*call
		batch, next = b.collect(first)
		b.execute(batch)
	}
}

// collect gathers the calls that join first's batch. It returns the first queued call
// that cannot join, if any.
func (b *batcher) collect(first *call) (batch []*call, next *call) {
	batch = []*call{first}
	if !b.batching.Load() {
		return batch, nil
	}
	rows := first.req.Rows()
	var timer <-chan time.Time
	if b.cfg.MaxDelay > 0 {
		timer = time.After(time.Duration(b.cfg.MaxDelay) - time.Since(first.enqueued))
	}
	for rows < int64(b.cfg.MaxBatchSize) {
		var c *call
		select {
		case c = <-b.queue:
		default:
			if timer == nil {
				return batch, nil
			}
			select {
			case c = <-b.queue:
			case <-timer:
				return batch, nil
			case <-b.stop:
				return batch, nil
			}
		}
		if !runtime.Batchable(first.req, c.req) || rows+c.req.Rows() > int64(b.cfg.MaxBatchSize) {
			return batch, c
		}
		batch = append(batch, c)
		rows += c.req.Rows()
	}
	return batch, nil
}

// execute runs one batch and answers its calls.
func (b *batcher) execute(batch []*call) {
	defer func() {
		if p := recover(); p != nil { // a runtime's bug must not take the server down
			err := fault.New(fault.Internal, "the runtime failed: %v", p)
			for _, c := range batch {
				select {
				case c.done <- result{err: err}:
				default:
				}
			}
		}
	}()
	now := time.Now()
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- result{err: ctxFault(err)}
			continue
		}
		b.metrics.queue.Observe(now.Sub(c.enqueued).Seconds())
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	b.metrics.batchSize.Observe(float64(len(live)))
	if len(live) == 1 {
		resp, err := b.timed(ctx, live[0].req)
		live[0].done <- result{resp, err}
		return
	}
	reqs := make([]*runtime.Request, len(live))
	rows := make([]int64, len(live))
	for i, c := range live {
		reqs[i], rows[i] = c.req, c.req.Rows()
	}
	resp, err := b.timed(ctx, runtime.Concat(reqs))
	var parts []*runtime.Response
	if err == nil {
		parts, err = runtime.Split(resp, rows)
		if err != nil { // not row by row after all: stop batching, answer one by one
			b.batching.Store(false)
		}
	}
	if err != nil {
		b.oneByOne(ctx, live)
		return
	}
	for i, c := range live {
		c.done <- result{resp: parts[i]}
	}
}

// oneByOne answers each call of a failed batch on its own, so that one bad request
// fails alone and the rest get their answers.
func (b *batcher) oneByOne(ctx context.Context, calls []*call) {
	for _, c := range calls {
		resp, err := b.timed(ctx, c.req)
		c.done <- result{resp, err}
	}
}

func (b *batcher) timed(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	start := time.Now()
	resp, err := b.model.Predict(ctx, req)
	b.metrics.compute.Observe(time.Since(start).Seconds())
	return resp, err
}

// batchContext lasts as long as the latest deadline among the calls: each caller
// stops waiting at its own deadline, and the batch does not cut the others short. A
// batch of one runs under its caller's own context.
func batchContext(calls []*call) (context.Context, context.CancelFunc) {
	if len(calls) == 1 {
		return calls[0].ctx, func() {}
	}
	var latest time.Time
	for _, c := range calls {
		d, ok := c.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
