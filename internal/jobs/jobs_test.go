package jobs

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

type echoArgs struct {
	Value string `json:"value"`
}

func (echoArgs) Kind() string { return "test_echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	done chan string
}

func (w *echoWorker) Work(ctx context.Context, job *river.Job[echoArgs]) error {
	w.done <- job.Args.Value
	return nil
}

func openQueue(t *testing.T, path string, w *echoWorker) *Queue {
	t.Helper()
	return openWith(t, Options{Path: path, PollInterval: 20 * time.Millisecond}, w)
}

func openWith(t *testing.T, opts Options, w *echoWorker) *Queue {
	t.Helper()
	q := New(opts)
	if err := AddWorker(q, w); err != nil {
		t.Fatal(err)
	}
	if err := q.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	return q
}

func TestJobRuns(t *testing.T) {
	w := &echoWorker{done: make(chan string, 1)}
	q := openQueue(t, filepath.Join(t.TempDir(), "jobs.db"), w)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := q.Insert(ctx, echoArgs{Value: "hello"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.done:
		if got != "hello" {
			t.Fatalf("worker got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not run")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		row, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if row.State == rivertype.JobStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job state %s, want completed", row.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A job left running by a process that died runs again at the next start.
func TestInterruptedJobRunsAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	w := &echoWorker{done: make(chan string, 1)}
	q := openQueue(t, path, w)
	id, err := q.Insert(t.Context(), echoArgs{Value: "again"}, nil) // inserted, never started
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-job leaves behind.
	if _, err := q.db.ExecContext(t.Context(), `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = datetime('now', 'subsec') WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	q = openQueue(t, path, w)
	defer q.Close(t.Context())
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.done:
		if got != "again" {
			t.Fatalf("worker got %q", got)
		}
	case <-time.After(10 * time.Second):
		var state string
		q.db.QueryRowContext(t.Context(), `SELECT state FROM river_job WHERE id = ?`, id).Scan(&state)
		t.Fatalf("the interrupted job did not run again (state %s)", state)
	}
}

// A periodic job runs as the queue starts, and again after its interval.
func TestPeriodicJobRuns(t *testing.T) {
	runs := make(chan struct{}, 10)
	q := New(Options{Path: filepath.Join(t.TempDir(), "jobs.db"), PollInterval: 20 * time.Millisecond,
		Periodic: []Periodic{{Name: "tick", Interval: 500 * time.Millisecond, Run: func(ctx context.Context) error {
			runs <- struct{}{}
			return nil
		}}}})
	if err := q.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		select {
		case <-runs:
		case <-time.After(15 * time.Second):
			t.Fatalf("run %d of the periodic job did not come", i+1)
		}
	}
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
