package datasets

import (
	"io"
	"sync"
)

// chunkPipe is an io.Pipe with a few chunks of room in between: the content store
// (hashing and writing the upload) and the profiler each go at their own pace until one
// is that far ahead, where io.Pipe would make each wait on the other at every write.
type chunkPipe struct {
	full chan []byte // written chunks, in order; closed by the writer's close
	free chan []byte // chunks the reader is done with
	werr error       // the writer's close error, set before full is closed

	wbuf []byte // the chunk being filled
	rbuf []byte // the rest of the chunk being read
	rcap []byte // rbuf's whole chunk, to hand back

	wonce sync.Once
	done  chan struct{} // closed by the reader's close
	once  sync.Once
	rerr  error // the reader's close error, set before done is closed
}

// newChunkPipe returns the two ends of a pipe that buffers up to n chunks of size bytes.
func newChunkPipe(n, size int) (*chunkPipeReader, *chunkPipeWriter) {
	p := &chunkPipe{full: make(chan []byte, n), free: make(chan []byte, n), done: make(chan struct{})}
	for range n {
		p.free <- make([]byte, 0, size)
	}
	return &chunkPipeReader{p}, &chunkPipeWriter{p}
}

// chunkPipeWriter is the writing end; it is not safe for concurrent use.
type chunkPipeWriter struct{ p *chunkPipe }

// Write copies b into the pipe, blocking while every chunk is full. It fails once the
// reader has closed its end.
func (w *chunkPipeWriter) Write(b []byte) (int, error) {
	p, written := w.p, 0
	for len(b) > 0 {
		if p.wbuf == nil {
			select {
			case p.wbuf = <-p.free:
			case <-p.done:
				return written, p.readErr()
			}
		}
		n := min(len(b), cap(p.wbuf)-len(p.wbuf))
		p.wbuf = append(p.wbuf, b[:n]...)
		b, written = b[n:], written+n
		if len(p.wbuf) == cap(p.wbuf) {
			if err := p.send(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (p *chunkPipe) send() error {
	select {
	case p.full <- p.wbuf:
		p.wbuf = nil
		return nil
	case <-p.done:
		return p.readErr()
	}
}

// CloseWithError hands over what is buffered and closes the writing end: the reader gets
// err, or io.EOF when err is nil, once it has read everything. Only the first call counts.
func (w *chunkPipeWriter) CloseWithError(err error) {
	p := w.p
	p.wonce.Do(func() {
		if len(p.wbuf) > 0 {
			_ = p.send() // the reader may be gone: nothing then waits for the rest
		}
		p.werr = err
		close(p.full)
	})
}

// closeAtEOF closes w as soon as r reaches its end, so that the reader of the pipe
// finishes while the bytes are still being synced to the store.
type closeAtEOF struct {
	r io.Reader
	w *chunkPipeWriter
}

func (c closeAtEOF) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err == io.EOF {
		c.w.CloseWithError(nil)
	}
	return n, err
}

func (p *chunkPipe) readErr() error {
	if p.rerr != nil {
		return p.rerr
	}
	return io.ErrClosedPipe
}

// chunkPipeReader is the reading end; it is not safe for concurrent use.
type chunkPipeReader struct{ p *chunkPipe }

// Read reads what the writer wrote, in order.
func (r *chunkPipeReader) Read(b []byte) (int, error) {
	p := r.p
	if len(p.rbuf) == 0 {
		if p.rcap != nil {
			p.free <- p.rcap[:0] // cannot block: there are only n chunks
			p.rcap = nil
		}
		chunk, ok := <-p.full
		if !ok {
			if p.werr != nil {
				return 0, p.werr
			}
			return 0, io.EOF
		}
		p.rbuf, p.rcap = chunk, chunk
	}
	n := copy(b, p.rbuf)
	p.rbuf = p.rbuf[n:]
	return n, nil
}

// CloseWithError closes the reading end: writes fail with err from then on.
func (r *chunkPipeReader) CloseWithError(err error) {
	r.p.once.Do(func() {
		r.p.rerr = err
		close(r.p.done)
	})
}
