package process

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// errStopped is returned when a worker's pipes are used after it was stopped.
var errStopped = errors.New("worker stopped")

// worker is one running worker process and the server's end of its pipes.
type worker struct {
	cmd    *exec.Cmd
	pid    int
	stdin  *os.File
	stdout *os.File
	conn   *conn
	errLog *os.File // stderr's read end, until readStderr takes it
	// release frees what the sandbox set up for the process, once it has exited.
	release func()
	log     *slog.Logger

	exited    chan struct{} // closed once the process has exited and been reaped
	exitErr   error         // how it exited; read after exited is closed
	logged    chan struct{} // closed once stderr has been read to its end
	stderr    tail
	stopping  atomic.Bool // the server is ending the process: its exit is expected
	closePipe sync.Once
	readyAt   time.Time // when it reported ready; guarded by the model's mu

	// mu guards the pipes' deadlines, so that a stale context's callback cannot
	// cut short a later request. Reads and writes have deadlines and generations of
	// their own: with two requests in flight, one is being answered while the next
	// is written.
	mu      sync.Mutex
	rgen    uint64
	wgen    uint64
	stopped bool

	// wmu is held while a request is written, so that frames do not interleave and
	// the order of the replies is the order in which lastTurn was handed on.
	wmu sync.Mutex
	// lastTurn is closed once the reply to the last request written has been read, or
	// its exchange has ended: the reader of the next reply waits for it. Guarded by wmu.
	lastTurn chan struct{}
}

// closedTurn is the turn of a worker that has nothing in flight.
var closedTurn = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// startWorker runs p, whose last argument is the model directory, in sb. The caller
// must then run readStderr and reap, each in its own goroutine.
func startWorker(sb *sandbox.Sandbox, p sandbox.Process, log *slog.Logger) (*worker, error) {
	var files [6]*os.File // stdin r/w, stdout r/w, stderr r/w
	for i := 0; i < len(files); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeFiles(files[:i]...)
			return nil, err
		}
		files[i], files[i+1] = r, w
	}
	cmd, release, err := sb.Command(p)
	if err == nil {
		err = giveStreams(sb, files[0], files[3], files[5])
	}
	if err != nil {
		closeFiles(files[:]...)
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[3], files[5]
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	closeFiles(files[0], files[3], files[5])
	if err != nil {
		release()
		closeFiles(files[1], files[2], files[4])
		return nil, err
	}
	w := &worker{
		cmd: cmd, pid: cmd.Process.Pid, stdin: files[1], stdout: files[2],
		conn: newConn(files[2], files[1]), errLog: files[4], release: release,
		log:    log.With("pid", cmd.Process.Pid),
		exited: make(chan struct{}), logged: make(chan struct{}),
		lastTurn: closedTurn,
	}
	return w, nil
}

// giveStreams makes the worker's user own the pipes of its standard streams, so that
// it may open them again by name (/dev/stdout, as R does) after it has dropped the
// server's user.
func giveStreams(sb *sandbox.Sandbox, fs ...*os.File) error {
	uid, gid := sb.Owner()
	if uid < 0 {
		return nil
	}
	for _, f := range fs {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("give the worker's pipes to its user: %w", err)
		}
	}
	return nil
}

func closeFiles(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

// reap waits for the process to exit. It must run exactly once per worker.
func (w *worker) reap() {
	w.exitErr = w.cmd.Wait()
	w.release()
	close(w.exited)
}

// hasExited reports whether the process has exited.
func (w *worker) hasExited() bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}

// readStderr logs each line the worker writes to stderr and keeps the last ones, which
// say why a worker that failed to start did so.
func (w *worker) readStderr() {
	defer close(w.logged)
	defer w.errLog.Close()
	r := bufio.NewReaderSize(w.errLog, 4096)
	for {
		line, err := r.ReadSlice('\n')
		if s := strings.TrimRight(string(line), "\r\n"); s != "" {
			w.stderr.add(s)
			w.log.Info("worker stderr", "line", s)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// armRead sets the deadline of the next read from the worker and returns its
// generation.
func (w *worker) armRead(deadline time.Time) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return 0, errStopped
	}
	w.rgen++
	w.stdout.SetReadDeadline(deadline)
	return w.rgen, nil
}

// armWrite sets the deadline of the next write to the worker and returns its
// generation.
func (w *worker) armWrite(deadline time.Time) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return 0, errStopped
	}
	w.wgen++
	w.stdin.SetWriteDeadline(deadline)
	return w.wgen, nil
}

// expireRead ends read gen now, waking a goroutine blocked on stdout, unless a later
// read has begun.
func (w *worker) expireRead(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rgen == gen && !w.stopped {
		w.stdout.SetReadDeadline(time.Unix(1, 0))
	}
}

// expireWrite ends write gen now, unless a later write has begun.
func (w *worker) expireWrite(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wgen == gen && !w.stopped {
		w.stdin.SetWriteDeadline(time.Unix(1, 0))
	}
}

// isStopped reports whether the worker was interrupted: retired or closed.
func (w *worker) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// interrupt fails the current exchange and every later one.
func (w *worker) interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.setPast()
}

func (w *worker) setPast() {
	past := time.Unix(1, 0)
	w.stdout.SetReadDeadline(past)
	w.stdin.SetWriteDeadline(past)
}

// kill ends the process at once.
func (w *worker) kill() {
	w.stopping.Store(true)
	w.cmd.Process.Kill()
}

// stop ends the process gently: it closes stdin, which a worker takes as the signal to
// exit, then sends SIGTERM, then SIGKILL, waiting grace before each step.
func (w *worker) stop(grace time.Duration) {
	w.stopping.Store(true)
	w.stdin.Close()
	if w.waitExit(grace) {
		return
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err == nil && w.waitExit(grace) {
		return
	}
	w.cmd.Process.Kill()
	w.waitExit(grace)
}

// waitExit waits up to d for the process to exit.
func (w *worker) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.exited:
		return true
	case <-t.C:
		return false
	}
}

// closePipes releases the server's ends of stdin and stdout.
func (w *worker) closePipes() {
	w.closePipe.Do(func() { closeFiles(w.stdin, w.stdout) })
}

// lastWords waits briefly for a dying worker to exit and finish writing to stderr, and
// returns its exit status and last stderr lines.
func (w *worker) lastWords() string {
	exited := w.waitExit(2 * time.Second)
	last := w.stderrTail(time.Second)
	var b strings.Builder
	if exited && w.exitErr != nil {
		b.WriteString(w.exitErr.Error())
	} else if exited {
		b.WriteString("exit status 0")
	}
	if last != "" {
		b.WriteString("; its last output:\n")
		b.WriteString(last)
	}
	return b.String()
}

// stderrTail returns the last lines the worker wrote to stderr once stderr has been read
// to its end, or after wait if it has not: a dying worker writes why just before it exits,
// and the lines may still be in the pipe when its death is noticed.
func (w *worker) stderrTail(wait time.Duration) string {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.logged:
	case <-t.C:
	}
	return w.stderr.String()
}

// tail keeps the last lines a worker wrote to stderr.
type tail struct {
	mu    sync.Mutex
	lines []string
}

const (
	tailLines   = 20
	tailLineLen = 1000
)

func (t *tail) add(line string) {
	if len(line) > tailLineLen {
		line = line[:tailLineLen] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == tailLines {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
