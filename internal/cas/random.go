package cas

import (
	"context"
	"io"
	"sync"

	"github.com/mlship/mlship/internal/blob"
)

// RandomReader is a stored object read at any offset, as a Parquet file is (its footer
// first). Size is its length in bytes.
type RandomReader interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// OpenRandom opens the object named by digest for reading at offsets. Unlike Open it
// cannot verify the bytes as they stream, since they are not read in order: it is meant
// for an object just stored, whose digest was computed from the bytes written. A blob
// driver whose objects read at offsets themselves (a local file) is read directly, with
// no copy; other objects are read by seeking.
func (s *Store) OpenRandom(ctx context.Context, digest string) (RandomReader, error) {
	obj, _, err := s.openDigest(ctx, digest)
	if err != nil {
		return nil, err
	}
	if ra, ok := obj.(io.ReaderAt); ok {
		return randomObject{obj, ra}, nil
	}
	return randomObject{obj, &seekingReaderAt{obj: obj}}, nil
}

type randomObject struct {
	blob.Object
	ra io.ReaderAt
}

func (o randomObject) ReadAt(p []byte, off int64) (int, error) { return o.ra.ReadAt(p, off) }
func (o randomObject) Size() int64                             { return o.Info().Size }

// seekingReaderAt reads at offsets through Seek and Read, one read at a time.
type seekingReaderAt struct {
	mu  sync.Mutex
	obj io.ReadSeeker
}

func (s *seekingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.obj.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.obj, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF // io.ReaderAt's word for a read that reached the end
	}
	return n, err
}
