package datasets

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestChunkPipe(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(rand.N(256))
	}
	t.Run("copies in order", func(t *testing.T) {
		pr, pw := newChunkPipe(3, 1000)
		go func() {
			_, err := io.Copy(pw, iotest.HalfReader(bytes.NewReader(data)))
			pw.CloseWithError(err)
		}()
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(pr, 10)))
		if err != nil || !bytes.Equal(got, data[:10]) {
			t.Fatalf("first bytes %v, %v", got, err)
		}
		rest, err := io.ReadAll(pr)
		if err != nil || !bytes.Equal(append(got, rest...), data) {
			t.Fatalf("read %d bytes, %v; want %d", len(got)+len(rest), err, len(data))
		}
	})
	t.Run("writer error", func(t *testing.T) {
		pr, pw := newChunkPipe(3, 1000)
		boom := errors.New("boom")
		go func() {
			pw.Write(data[:2500])
			pw.CloseWithError(boom)
		}()
		got, err := io.ReadAll(pr)
		if !errors.Is(err, boom) || !bytes.Equal(got, data[:2500]) {
			t.Fatalf("read %d bytes, %v; want 2500 and boom", len(got), err)
		}
	})
	t.Run("reader gone", func(t *testing.T) {
		pr, pw := newChunkPipe(2, 1000)
		stop := errors.New("stop")
		pr.CloseWithError(stop)
		if _, err := pw.Write(data); !errors.Is(err, stop) {
			t.Fatalf("write after the reader closed: %v", err)
		}
		pw.CloseWithError(nil)
	})
}

func TestCloseAtEOF(t *testing.T) {
	pr, pw := newChunkPipe(2, 1000)
	src := closeAtEOF{io.TeeReader(bytes.NewReader([]byte("all of it")), pw), pw}
	if _, err := io.ReadAll(src); err != nil {
		t.Fatal(err)
	}
	// The reader sees the end before the writer's owner closes the pipe.
	if got, err := io.ReadAll(pr); string(got) != "all of it" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	pw.CloseWithError(errors.New("ignored: already closed"))
}
