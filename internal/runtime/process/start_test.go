package process

import (
	"testing"
	"time"
)

// TestWorkersStartTogether: a model's workers start at once, so that loading a model
// with N workers takes about one worker's start, not N of them.
func TestWorkersStartTogether(t *testing.T) {
	const startTime = 800 * time.Millisecond
	for _, workers := range []int{1, 4} {
		begin := time.Now()
		m := loadFake(t, "slowstart:800", Options{Workers: workers})
		took := time.Since(begin)
		if took < startTime || took > startTime+startTime/2+time.Second/2 {
			t.Errorf("%d workers started in %s; want about one start, %s", workers, took, startTime)
		}
		if got := len(m.idle); got != workers*pipelineDepth {
			t.Errorf("%d worker slots idle after the load, want %d (%d per worker)", got, workers*pipelineDepth, pipelineDepth)
		}
	}
}
