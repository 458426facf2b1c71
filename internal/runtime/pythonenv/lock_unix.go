//go:build unix

package pythonenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// lockPoll is how often a load waiting for another's build tries the lock again.
const lockPoll = 200 * time.Millisecond

// lock takes an exclusive lock on path, waiting while another process (or another
// load in this one) holds it, until ctx ends. It returns the function that releases it.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the environment: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock the environment: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fault.Wrap(fault.DeadlineExceeded, ErrLocked, "%v while waiting: %v", ErrLocked, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
