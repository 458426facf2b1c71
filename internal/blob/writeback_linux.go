package blob

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writebackEvery is how many bytes of a large object are written before the kernel
// is asked to start writing them to disk, so that the fsync that ends the write finds
// little left to flush (the bytes_per_sync of databases).
const writebackEvery = 8 << 20

// writeback is an io.Writer over a file that starts the disk write of every
// writebackEvery bytes as they go: durability still comes from the final fsync.
type writeback struct {
	f        *os.File
	off, due int64
}

func newWriteback(f *os.File) io.Writer { return &writeback{f: f} }

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.due >= writebackEvery {
		// Advisory: an error only means the final fsync does all the work.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.due, w.off-w.due, unix.SYNC_FILE_RANGE_WRITE)
		w.due = w.off
	}
	return n, err
}
