package dataset

import (
	"context"
	"sync"
)

// profileBatches is how many batches ProfileReader holds at once, as
// readAll does. Once the next batch is read its columns start while the slow
// columns of the one before (free text, say) finish, instead of cores idling
// at the end of each batch; a third batch made no difference.
const profileBatches = 2

// pipedBatch is a batch being profiled by a columnScheduler.
type pipedBatch struct {
	filledBatch
	cols []*columnProfiler
	done chan struct{} // closed once every column is profiled

	// Under the scheduler's lock:
	left     int         // columns not profiled yet
	mixed    *InputError // the batch's first value of another type, under RejectMixed
	mixedCol int
}

// columnTask is one column of one batch.
type columnTask struct {
	batch *pipedBatch
	col   int
}

// columnScheduler profiles the columns of several batches on a pool of
// workers. A column takes its batches one at a time, in file order, so the
// profile is the one AddBatch builds; only different columns run side by
// side.
type columnScheduler struct {
	rejectMixed bool

	mu     sync.Mutex
	wake   sync.Cond
	ready  []columnTask                     // tasks whose column is free, in the order they became so
	behind map[*columnProfiler][]columnTask // per column with a task ready or running, its later tasks
	closed bool
}

func newColumnScheduler(rejectMixed bool) *columnScheduler {
	s := &columnScheduler{rejectMixed: rejectMixed, behind: map[*columnProfiler][]columnTask{}}
	s.wake.L = &s.mu
	return s
}

// submit queues every column of b.
func (s *columnScheduler) submit(b *pipedBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.left = len(b.cols)
	if b.left == 0 {
		close(b.done)
	}
	for i, c := range b.cols {
		t := columnTask{b, i}
		if later, busy := s.behind[c]; busy {
			s.behind[c] = append(later, t)
			continue
		}
		s.behind[c] = nil
		s.ready = append(s.ready, t)
	}
	s.wake.Broadcast()
}

// close lets the workers return once the queued tasks are done.
func (s *columnScheduler) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wake.Broadcast()
}

// work runs tasks until the scheduler is closed and drained.
func (s *columnScheduler) work() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.ready) == 0 && !s.closed {
			s.wake.Wait()
		}
		if len(s.ready) == 0 {
			return
		}
		t := s.ready[0]
		s.ready = s.ready[1:]
		s.mu.Unlock()
		c, b := t.batch.cols[t.col], t.batch.batch
		hadMixed := c.mixed != nil
		c.addBatchColumn(&b.Columns[t.col], b.Rows, b.FirstLine, s.rejectMixed)
		newMixed := !hadMixed && c.mixed != nil
		s.mu.Lock()
		s.finish(t, newMixed)
	}
}

// finish records a done task and frees its column for its next batch.
func (s *columnScheduler) finish(t columnTask, newMixed bool) {
	b, c := t.batch, t.batch.cols[t.col]
	if newMixed && (b.mixed == nil || c.mixed.Line < b.mixed.Line || c.mixed.Line == b.mixed.Line && t.col < b.mixedCol) {
		b.mixed, b.mixedCol = c.mixed, t.col
	}
	if later := s.behind[c]; len(later) > 0 {
		s.ready = append(s.ready, later[0])
		s.behind[c] = later[1:]
		s.wake.Signal()
	} else {
		delete(s.behind, c)
	}
	if b.left--; b.left == 0 {
		close(b.done)
	}
}

// addReader adds everything r yields, as ProfileReader describes: batches
// are read, profiled and finished (counted, checked for mixed types,
// reported) in file order, but the columns of consecutive batches are
// profiled side by side.
func (p *Profiler) addReader(ctx context.Context, r Reader, progress func(bytesRead int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *Batch, profileBatches)
	for range profileBatches {
		free <- new(Batch)
	}
	full := make(chan filledBatch)
	errc := make(chan error, 1)
	go func() {
		defer close(full)
		errc <- fillBatches(ctx, r, free, full)
	}()
	s := newColumnScheduler(p.opts.RejectMixed)
	var workers sync.WaitGroup
	for range p.opts.Workers {
		workers.Go(s.work)
	}
	inflight := make(chan *pipedBatch, profileBatches) // never full: there are no more batches
	go func() {
		defer close(inflight)
		for f := range full {
			b := &pipedBatch{filledBatch: f, cols: make([]*columnProfiler, len(f.batch.Columns)), done: make(chan struct{})}
			for i := range b.cols {
				b.cols[i] = p.column(f.batch.Names[i])
			}
			s.submit(b)
			inflight <- b
		}
	}()
	errMixed := p.finishBatches(inflight, free, progress, cancel)
	s.close()
	workers.Wait()
	if errMixed != nil {
		return errMixed
	}
	if err := <-errc; !isEOF(err) {
		return err
	}
	return nil
}

// finishBatches waits for each batch in turn, counts its rows and reports
// progress, and hands it back to be read into. It stops at the first mixed
// type under RejectMixed, cancelling the rest, and returns it.
func (p *Profiler) finishBatches(inflight <-chan *pipedBatch, free chan<- *Batch, progress func(int64), cancel func()) error {
	var errMixed error
	for b := range inflight {
		<-b.done
		if errMixed == nil {
			if b.mixed != nil {
				errMixed = b.mixed
				cancel()
			} else {
				p.rows += int64(b.batch.Rows)
				if progress != nil {
					progress(b.bytesRead)
				}
			}
		}
		free <- b.batch
	}
	return errMixed
}
