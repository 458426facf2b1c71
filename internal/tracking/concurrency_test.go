package tracking_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

// TestConcurrentLogging has 20 goroutines log batches at once, half to runs of their
// own and half to one shared run, while others read, and checks that every acknowledged
// write is there.
func TestConcurrentLogging(t *testing.T) {
	const workers, batches, perBatch, readerCount = 20, 5, 20, 3
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		shared := mustRun(t, s, tracking.CreateRunInput{RunName: "shared"}).Info.RunID
		runs := make([]string, workers)
		for w := range runs {
			runs[w] = shared
			if w%2 == 0 {
				runs[w] = mustRun(t, s, tracking.CreateRunInput{RunName: fmt.Sprintf("own-%d", w)}).Info.RunID
			}
		}
		var wg, readers sync.WaitGroup
		errs := make(chan error, workers*batches+readerCount)
		// Readers load the runs all along, so that a run cache races the writes: what
		// they load while a write commits must not outlive the write.
		stop := make(chan struct{})
		for range readerCount {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _, err := s.SearchRuns(ctx, tracking.SearchRunsQuery{ExperimentIDs: []string{"0"}, MaxResults: 100})
					for _, id := range runs {
						if err == nil {
							_, err = s.GetRun(ctx, id)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for w := range workers {
			wg.Go(func() {
				for b := range batches {
					var batch tracking.Batch
					for i := range perBatch {
						step := int64(b*perBatch + i)
						batch.Metrics = append(batch.Metrics, metric(fmt.Sprintf("w%d", w), float64(step), step, step))
					}
					batch.Params = []tracking.Param{{Key: fmt.Sprintf("w%d-b%d", w, b), Value: "v"}}
					batch.Tags = []tracking.Tag{{Key: fmt.Sprintf("w%d", w), Value: fmt.Sprint(b)}}
					if err := s.LogBatch(ctx, runs[w], batch); err != nil {
						errs <- fmt.Errorf("worker %d batch %d: %w", w, b, err)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for w, id := range runs {
			key := fmt.Sprintf("w%d", w)
			hist, _, err := s.GetMetricHistory(ctx, id, key, 0, "")
			wantKind(t, err, ok)
			if len(hist) != batches*perBatch {
				t.Errorf("worker %d: %d points stored, want %d", w, len(hist), batches*perBatch)
			}
			r := mustGetRun(t, s, id)
			if m, _ := latest(r, key); m.Step != batches*perBatch-1 {
				t.Errorf("worker %d: latest step %d, want %d", w, m.Step, batches*perBatch-1)
			}
			params := paramsOf(r)
			for b := range batches {
				if params[fmt.Sprintf("w%d-b%d", w, b)] != "v" {
					t.Errorf("worker %d: param of batch %d missing", w, b)
				}
			}
			if got := tagsOf(r)[key]; got != fmt.Sprint(batches-1) {
				t.Errorf("worker %d: tag = %q, want the last batch's %d", w, got, batches-1)
			}
		}
	})
}

// TestConcurrentParamRace has goroutines race to set one param to different values:
// exactly one wins, and every other is refused.
func TestConcurrentParamRace(t *testing.T) {
	const workers = 10
	conform(t, func(t *testing.T, s *tracking.Service) {
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "race"}).Info.RunID
		var wg sync.WaitGroup
		results := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				results[w] = s.LogParam(t.Context(), id, tracking.Param{Key: "p", Value: fmt.Sprint(w)})
			})
		}
		wg.Wait()
		winner := -1
		for w, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("workers %d and %d both set the param", winner, w)
			case err == nil:
				winner = w
			case fault.KindOf(err) != fault.Invalid:
				t.Errorf("worker %d: %v, want an invalid-parameter error", w, err)
			}
		}
		if got := paramsOf(mustGetRun(t, s, id))["p"]; winner < 0 || got != fmt.Sprint(winner) {
			t.Errorf("param = %q, winner %d", got, winner)
		}
	})
}
