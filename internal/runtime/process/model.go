package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/runtime/sandbox"
)

const (
	// The backoff between attempts to start a replacement worker after a failed
	// start, doubling from minBackoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// earlyExit: a worker that dies this soon after reporting ready counts as a failed
	// start, so that a worker that crashes at once is not restarted in a tight loop.
	earlyExit = time.Second
	// pipelineDepth is how many requests a worker may have in flight: while it
	// computes one, the next is already in its stdin, so that it goes on to it as soon
	// as it has written its answer instead of waiting for the server to read the
	// answer and write again. Each worker holds that many slots in the idle channel.
	pipelineDepth = 2
)

// model is a loaded model: a fixed number of worker slots, each holding a running
// worker or a replacement being started. A worker is owned by exactly one party at a
// time (the idle channel, a caller, a drain, or the goroutine that noticed its exit),
// and only its owner retires or releases it.
type model struct {
	opts  Options
	spec  runtime.Spec
	label string
	proc  sandbox.Process // a worker's program, environment and readable paths
	log   *slog.Logger
	meta  runtime.Metadata

	idle   chan *worker
	ctx    context.Context // canceled by Close: aborts starts and backoffs
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the model starts
	// unloaded is closed when Close has stopped every worker.
	unloaded chan struct{}

	// closing is set by Close before it stops anything; the request path reads it
	// without the lock.
	closing atomic.Bool

	mu      sync.Mutex
	closed  bool             // set with closing; under mu, it guards wg.Add
	workers map[*worker]bool // every started process; true once it is ready
	ready   int              // the workers that have reported ready and not been retired
	lastErr error            // why the last start failed

	// failures counts the failed starts since a worker last proved sound, for the
	// backoff. It is atomic so that every reply can check it without the lock.
	failures atomic.Int32
}

var _ runtime.Model = (*model)(nil)

func newModel(opts Options, spec runtime.Spec, l launch) (*model, error) {
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "model directory %q", spec.Dir)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fault.Invalidf("model directory %q does not exist or is not a directory", spec.Dir)
	}
	spec.Dir = dir
	log := spec.Logger
	if log == nil {
		log = opts.Logger
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &model{
		opts: opts, spec: spec, label: label(spec),
		proc: sandbox.Process{Argv: append(l.argv[:len(l.argv):len(l.argv)], dir), Env: workerEnv(dir, opts.Env),
			Dir: dir, ReadOnly: l.readOnly},
		log:  log.With("runtime", opts.Name, "model", spec.Name, "version", spec.Version),
		idle: make(chan *worker, opts.Workers*pipelineDepth), ctx: ctx, cancel: cancel, unloaded: make(chan struct{}),
		workers: make(map[*worker]bool),
	}
	return m, nil
}

// baseEnv is the environment every worker starts from: a worker inherits nothing of
// the server's, whose variables may hold credentials.
var baseEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/tmp", "TMPDIR=/tmp", // the sandbox points both at the worker's private directory
	"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
	"PYTHONDONTWRITEBYTECODE=1", // the model's directory is read-only
}

// workerEnv is a worker's whole environment: baseEnv, then extra (the runtime's and
// the operator's variables; later entries win), then MLSHIP_MODEL_DIR.
func workerEnv(dir string, extra []string) []string {
	env := append(slices.Clone(baseEnv), extra...)
	return append(env, "MLSHIP_MODEL_DIR="+dir)
}

// start starts every worker at once and waits until all are ready.
func (m *model) start(ctx context.Context) error {
	ws := make([]*worker, m.opts.Workers)
	frames := make([]*readyFrame, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i := range ws {
		wg.Go(func() { ws[i], frames[i], errs[i] = m.spawn(ctx) })
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return err
	}
	m.meta = frames[0].metadata()
	m.meta.InFlight = pipelineDepth
	m.log.Info("model loaded", "workers", len(ws), "platform", m.meta.Platform)
	// Round by round, so that requests go to an idle worker before a busy one's
	// second slot.
	for range pipelineDepth {
		for _, w := range ws {
			m.release(w)
		}
	}
	return nil
}

// firstError returns the first error a worker reported in its own words, else the
// first error.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if fault.KindOf(err) == fault.Invalid {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// spawn starts one worker and waits for its ready frame.
func (m *model) spawn(ctx context.Context) (*worker, *readyFrame, error) {
	w, err := m.exec()
	if err != nil {
		return nil, nil, err
	}
	ready, err := m.awaitReady(ctx, w)
	if err != nil {
		m.discard(w)
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, errClosed // Close stops it: it is in m.workers
	}
	m.workers[w] = true
	m.ready++
	w.readyAt = time.Now()
	return w, ready, nil
}

// errClosed is the error of every prediction made on, or cut short by, a closed model.
var errClosed = fault.New(fault.Unavailable, "the model is being unloaded")

// exec starts a worker process and the goroutines that log its stderr and reap it.
func (m *model) exec() (*worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	w, err := startWorker(m.opts.Sandbox, m.proc, m.log)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot start the %s worker %q: %v", m.opts.Name, m.proc.Argv[0], err)
	}
	m.workers[w] = false
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		w.readStderr()
	}()
	go func() {
		defer m.wg.Done()
		m.watch(w)
	}()
	return w, nil
}

// awaitReady reads a new worker's ready frame within the start timeout.
func (m *model) awaitReady(ctx context.Context, w *worker) (*readyFrame, error) {
	gen, err := w.armRead(time.Now().Add(m.opts.StartTimeout))
	if err != nil {
		return nil, errClosed
	}
	stop := context.AfterFunc(ctx, func() { w.expireRead(gen) })
	ready, err := w.conn.readReady()
	stop()
	switch {
	case err == nil && !ready.OK:
		return nil, fault.New(fault.Invalid, "the %s worker could not load model %s: %s", m.opts.Name, m.label, ready.Error)
	case err == nil && ready.Protocol != protocolVersion:
		return nil, fault.New(fault.Invalid, "the %s worker speaks protocol version %d; mlship speaks version %d", m.opts.Name, ready.Protocol, protocolVersion)
	case err == nil:
		return ready, nil
	case m.isClosed():
		return nil, errClosed
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return nil, fault.Wrap(fault.DeadlineExceeded, ctx.Err(), "loading model %s was canceled", m.label)
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.kill()
		return nil, fault.New(fault.DeadlineExceeded, "the %s worker did not load model %s within %s: %s", m.opts.Name, m.label, m.opts.StartTimeout, w.lastWords())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fault.New(fault.Invalid, "the %s worker exited before it loaded model %s: %s", m.opts.Name, m.label, w.lastWords())
	}
	w.kill()
	return nil, fault.Wrap(fault.Invalid, err, "the %s worker failed to start model %s: %v; %s", m.opts.Name, m.label, err, w.lastWords())
}

// watch waits for a worker's process to exit. A worker that dies while idle is taken
// out of the idle channel here and replaced at once.
func (m *model) watch(w *worker) {
	w.reap()
	if !w.stopping.Load() {
		m.log.Warn("worker exited", "pid", w.pid, "status", exitStatus(w.exitErr))
	}
	m.reclaim(w)
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// reclaim takes w's slots out of the idle channel and, if one was there, retires it;
// otherwise a caller holds it and retires it.
func (m *model) reclaim(w *worker) {
	if m.purge(w) {
		m.retire(w)
	}
}

// purge takes every slot of w out of the idle channel and reports whether it found one.
func (m *model) purge(w *worker) (found bool) {
	for range len(m.idle) {
		select {
		case x := <-m.idle:
			if x == w {
				found = true
				continue
			}
			m.idle <- x // never blocks: the channel has room for every live slot
		default:
			return found
		}
	}
	return found
}

// Metadata describes the model as its workers reported it.
func (m *model) Metadata() runtime.Metadata { return m.meta }

// Predict runs req on an idle worker, waiting for one until ctx ends. A request whose
// worker crashes is retried once on another: predictions are idempotent.
func (m *model) Predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	params, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	for retried := false; ; retried = true {
		w, err := m.acquire(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := m.call(ctx, w, req, params)
		var crash *crashError
		if !errors.As(err, &crash) {
			return resp, err
		}
		if retried {
			return nil, fault.Wrap(fault.Unavailable, crash, "the model's workers crashed twice on this request; they are being replaced")
		}
		m.log.Warn("worker crashed during a prediction; retrying on another worker", "pid", crash.pid, "cause", crash.cause)
	}
}

// encodeRequest checks the request's tensors and encodes its params.
func encodeRequest(req *runtime.Request) ([]byte, error) {
	for i := range req.Inputs {
		if err := req.Inputs[i].Check(); err != nil {
			return nil, err
		}
	}
	if len(req.Params) == 0 {
		return nil, nil
	}
	params, err := json.Marshal(req.Params)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "params cannot be encoded as JSON")
	}
	return params, nil
}

// crashError says a worker died, or broke the protocol, during a request.
type crashError struct {
	pid   int
	cause error
}

func (e *crashError) Error() string {
	return fmt.Sprintf("worker %d crashed: %v", e.pid, e.cause)
}

func (e *crashError) Unwrap() error { return e.cause }

// acquire takes an idle, live worker.
func (m *model) acquire(ctx context.Context) (*worker, error) {
	for {
		if m.closing.Load() {
			return nil, errClosed
		}
		var w *worker
		select {
		case w = <-m.idle:
		default:
			select {
			case w = <-m.idle:
			case <-ctx.Done():
				return nil, m.waitError(ctx)
			case <-m.ctx.Done():
				return nil, errClosed
			}
		}
		if !w.hasExited() && !w.isStopped() {
			return w, nil
		}
		m.retire(w)
	}
}

// waitError says why a caller stopped waiting for a worker.
func (m *model) waitError(ctx context.Context) error {
	m.mu.Lock()
	ready, lastErr := m.ready, m.lastErr
	m.mu.Unlock()
	if ready == 0 && lastErr != nil {
		return fault.New(fault.Unavailable, "the model has no running worker; the last attempt to start one failed: %s", fault.Message(lastErr))
	}
	if ready == 0 {
		return fault.New(fault.Unavailable, "the model has no running worker; one is being started")
	}
	return contextError(ctx)
}

func contextError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fault.Wrap(fault.DeadlineExceeded, ctx.Err(), "the prediction was canceled")
	}
	return fault.Wrap(fault.DeadlineExceeded, ctx.Err(), "the prediction did not finish before its deadline")
}

// call runs one exchange with w, in one of w's slots that the caller holds, and
// settles w's fate. The request is written at once, even while w computes the request
// of its other slot; the reply is read once the reply before it has been.
func (m *model) call(ctx context.Context, w *worker, req *runtime.Request, params []byte) (*runtime.Response, error) {
	if ctx.Err() != nil {
		m.release(w)
		return nil, contextError(ctx)
	}
	deadline := time.Now().Add(m.opts.RequestTimeout)
	wait, mine, err := m.send(ctx, w, req, params, deadline)
	if err != nil {
		return nil, m.unsent(ctx, w, err)
	}
	select {
	case <-wait:
	case <-ctx.Done():
		m.drainInTurn(w, wait, mine, deadline)
		return nil, contextError(ctx)
	}
	gen, err := w.armRead(deadline)
	var resp *runtime.Response
	if err == nil {
		stop := context.AfterFunc(ctx, func() { w.expireRead(gen) })
		resp, err = w.conn.readReply()
		stop()
	}
	return m.settle(ctx, w, resp, err, deadline, mine)
}

// send writes req to w. It returns the turn its reply must wait for, closed once the
// reply to the request written before it has been read, and its own turn, which the
// caller closes once it is done with w's stdout.
func (m *model) send(ctx context.Context, w *worker, req *runtime.Request, params []byte, deadline time.Time) (wait, mine chan struct{}, err error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	gen, err := w.armWrite(deadline)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { w.expireWrite(gen) })
	err = w.conn.writeRequest(req, params)
	stop()
	if err != nil {
		return nil, nil, err
	}
	wait, mine = w.lastTurn, make(chan struct{})
	w.lastTurn = mine
	return wait, mine, nil
}

// unsent settles w's fate after a request could not be written: a frame cut short
// leaves the worker out of step, so it is replaced.
func (m *model) unsent(ctx context.Context, w *worker, err error) error {
	switch {
	case m.isClosed():
		m.retire(w)
		return errClosed
	case errors.Is(err, errStopped): // another exchange retired it: try another worker
		return &crashError{pid: w.pid, cause: err}
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		m.retire(w)
		return contextError(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		m.log.Error("worker did not take a request in time; replacing it", "pid", w.pid, "timeout", m.opts.RequestTimeout)
		m.retire(w)
		return fault.New(fault.DeadlineExceeded, "the model did not answer within %s; its worker was restarted", m.opts.RequestTimeout)
	}
	m.retire(w)
	return &crashError{pid: w.pid, cause: err}
}

// settle releases, drains or retires w after a request was sent, maps its outcome,
// and hands the turn on to the next reply (after retiring a worker, so that the
// reader of the next reply finds it stopped).
func (m *model) settle(ctx context.Context, w *worker, resp *runtime.Response, err error, deadline time.Time, mine chan struct{}) (*runtime.Response, error) {
	var werr *workerError
	switch {
	case err == nil:
		close(mine)
		m.recovered()
		m.release(w)
		return resp, nil
	case errors.As(err, &werr):
		close(mine)
		m.recovered()
		m.release(w)
		return nil, m.modelError(w, werr)
	case m.isClosed():
		m.retire(w)
		close(mine)
		return nil, errClosed
	case w.isStopped(): // retired by the exchange before it: the answer will not come
		close(mine)
		return nil, &crashError{pid: w.pid, cause: err}
	case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		m.drain(w, deadline, mine)
		return nil, contextError(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		m.log.Error("worker did not answer in time; replacing it", "pid", w.pid, "timeout", m.opts.RequestTimeout)
		m.retire(w)
		close(mine)
		return nil, fault.New(fault.DeadlineExceeded, "the model did not answer within %s; its worker was restarted", m.opts.RequestTimeout)
	}
	m.retire(w)
	close(mine)
	return nil, &crashError{pid: w.pid, cause: err}
}

// modelError maps an error the model raised: the client's mistakes are shown to it,
// anything else is logged.
func (m *model) modelError(w *worker, werr *workerError) error {
	if werr.client {
		return fault.New(fault.Invalid, "%s", werr.msg)
	}
	m.log.Error("model failed to predict", "pid", w.pid, "error", werr.msg)
	return fault.Wrap(fault.Internal, werr, "the model failed to predict")
}

// drain waits, until deadline, for the reply to a request whose caller has gone, so
// that a worker that is merely slow goes back to work instead of being restarted.
func (m *model) drain(w *worker, deadline time.Time, mine chan struct{}) {
	if !m.goTracked(func() { m.finish(w, deadline, mine) }) {
		m.retire(w)
		close(mine)
	}
}

// drainInTurn drains the reply to a request whose caller went before the reply ahead
// of it was read: it waits for its turn first.
func (m *model) drainInTurn(w *worker, wait, mine chan struct{}, deadline time.Time) {
	if !m.goTracked(func() {
		select {
		case <-wait:
			m.finish(w, deadline, mine)
		case <-m.ctx.Done(): // Close stops the worker
			close(mine)
		}
	}) {
		m.retire(w)
		close(mine)
	}
}

// finish reads and drops the reply in turn mine, then releases w, or retires it when
// no well-formed reply comes by deadline.
func (m *model) finish(w *worker, deadline time.Time, mine chan struct{}) {
	if _, err := w.armRead(deadline); err == nil {
		if _, err = w.conn.readReply(); err == nil || isWorkerError(err) {
			close(mine)
			m.release(w)
			return
		} else if !m.isClosed() && !w.isStopped() {
			m.log.Warn("worker failed to finish an abandoned request; replacing it", "pid", w.pid, "error", err)
		}
	}
	m.retire(w)
	close(mine)
}

func isWorkerError(err error) bool {
	var werr *workerError
	return errors.As(err, &werr)
}

// goTracked runs f in a goroutine that Close waits for, unless the model is closed.
func (m *model) goTracked(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Go(f)
	return true
}

// release returns one of w's slots to the idle channel, or retires w if it has died
// or was retired meanwhile.
func (m *model) release(w *worker) {
	if w.hasExited() || m.isClosed() || w.isStopped() {
		m.retire(w)
		return
	}
	m.idle <- w // never blocks: the channel has room for every live slot
}

// retire ends a worker that is dead, hung or out of step with the protocol, and
// starts its replacement. Once the model is closed, Close stops the workers instead.
func (m *model) retire(w *worker) {
	m.mu.Lock()
	ready, ok := m.workers[w]
	if m.closed || !ok {
		m.mu.Unlock()
		return
	}
	delete(m.workers, w)
	if ready {
		m.ready--
	}
	early := time.Since(w.readyAt) < earlyExit
	m.mu.Unlock()
	w.interrupt()
	w.kill()
	w.closePipes()
	m.purge(w) // its other slot may be idle
	if early {
		last := w.stderrTail(time.Second) // killed above, so its stderr ends at once
		if last == "" {
			last = "it wrote nothing to stderr"
		}
		m.failed(fault.New(fault.Unavailable, "a worker stopped within %s of starting: %s", earlyExit, last))
	} else {
		m.recovered()
	}
	m.replace()
}

// discard ends a worker that failed to start, without replacing it.
func (m *model) discard(w *worker) {
	m.mu.Lock()
	delete(m.workers, w)
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return // Close stops it
	}
	w.interrupt()
	w.kill()
	w.closePipes()
}

// replace starts a worker to take a retired one's slot, retrying with backoff until
// one starts or the model is closed.
func (m *model) replace() {
	m.goTracked(func() {
		for {
			if !m.sleep(m.backoff()) {
				return
			}
			w, _, err := m.spawn(m.ctx)
			if err == nil {
				for range pipelineDepth {
					m.release(w)
				}
				return
			}
			if m.isClosed() {
				return
			}
			m.failed(err)
			m.log.Error("cannot start a replacement worker", "error", err)
		}
	})
}

// failed records a failed start, for the backoff and for callers left waiting.
func (m *model) failed(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures.Add(1)
	m.lastErr = err
}

// recovered forgets past failed starts, once a worker has answered or lived long.
func (m *model) recovered() {
	if m.failures.Load() == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures.Store(0)
	m.lastErr = nil
}

// backoff is how long to wait before the next start: none while starts succeed,
// then doubling from minBackoff for each failure.
func (m *model) backoff() time.Duration {
	n := m.failures.Load()
	if n == 0 {
		return 0
	}
	return min(minBackoff<<min(n-1, 16), maxBackoff)
}

// sleep waits d, or until the model is closed; it reports whether the model is open.
func (m *model) sleep(d time.Duration) bool {
	if d <= 0 {
		return !m.isClosed()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.ctx.Done():
		return false
	}
}

func (m *model) isClosed() bool { return m.closing.Load() }

// Close stops every worker and waits for them to exit. Predictions in flight fail with
// fault.Unavailable.
func (m *model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.unloaded
		return nil
	}
	m.closed = true
	m.closing.Store(true)
	ws := slices.Collect(maps.Keys(m.workers))
	m.mu.Unlock()
	m.cancel()
	var wg sync.WaitGroup
	for _, w := range ws {
		w.interrupt()
		wg.Go(func() { w.stop(m.opts.StopGrace) })
	}
	wg.Wait()
	m.wg.Wait()
	for _, w := range ws {
		w.closePipes()
	}
	close(m.unloaded)
	m.log.Info("workers stopped")
	return nil
}
