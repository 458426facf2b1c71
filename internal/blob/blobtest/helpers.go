package blobtest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// testConcurrentPuts races writers of one key against readers, which must only ever see a
// whole version: the initial one or one writer's.
func testConcurrentPuts(t *testing.T, s blob.Store) {
	const size = 256 << 10
	put(t, s, "hot", strings.Repeat("@", size))
	var writers, readers sync.WaitGroup
	done := make(chan struct{})
	for w := range 8 {
		writers.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range 5 {
				if _, err := s.Put(t.Context(), "hot", bytes.NewReader(body)); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
	}
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					checkWhole(t, s, "hot", size)
				}
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	checkWhole(t, s, "hot", size)
}

// testConcurrentPutDelete races Puts and Deletes of one nested key: as on S3, neither may
// fail, although a local Delete prunes the directories a Put is about to use.
func testConcurrentPutDelete(t *testing.T, s blob.Store) {
	const key = "d/e/k"
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				if _, err := s.Put(t.Context(), key, strings.NewReader("body")); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
		})
		wg.Go(func() {
			for range 25 {
				if err := s.Delete(t.Context(), key); err != nil {
					t.Errorf("Delete: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.Stat(t.Context(), key); err != nil && !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat: %v", err)
	}
}

// checkWhole reads key and fails unless it is size copies of one byte.
func checkWhole(t *testing.T, s blob.Store, key string, size int) {
	got := get(t, s, key)
	if len(got) != size || strings.Count(got, got[:1]) != size {
		t.Errorf("read a torn object: %d bytes, starting %q", len(got), got[:min(len(got), 16)])
	}
}

func put(t *testing.T, s blob.Store, key, body string) {
	t.Helper()
	n, err := s.Put(t.Context(), key, strings.NewReader(body))
	if err != nil || n != int64(len(body)) {
		t.Fatalf("Put(%q) = %d, %v", key, n, err)
	}
}

func get(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Errorf("Open(%q): %v", key, err)
		return ""
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Errorf("read %q: %v", key, err)
	}
	return string(b)
}

func mustDelete(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if err := s.Delete(t.Context(), key); err != nil {
		t.Errorf("Delete(%q) = %v", key, err)
	}
}

func list(t *testing.T, s blob.Store, dir string) []blob.Info {
	t.Helper()
	infos, err := s.List(t.Context(), dir)
	if err != nil {
		t.Fatalf("List(%q): %v", dir, err)
	}
	return infos
}

// describe returns the keys of infos, with a "/" after directories.
func describe(infos []blob.Info) []string {
	var keys []string
	for _, info := range infos {
		if info.IsDir {
			keys = append(keys, info.Key+"/")
		} else {
			keys = append(keys, info.Key)
		}
	}
	return keys
}

func walk(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.Walk(t.Context(), prefix, func(info blob.Info) error {
		if info.IsDir {
			t.Errorf("Walk yielded directory %q", info.Key)
		}
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", prefix, err)
	}
	return keys
}

func create(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	id, err := s.CreateMultipart(t.Context(), key)
	if err != nil || id == "" {
		t.Fatalf("CreateMultipart(%q) = %q, %v", key, id, err)
	}
	return id
}

func uploadPart(t *testing.T, s blob.Store, key, id string, n int, body string) blob.Part {
	t.Helper()
	etag, err := s.UploadPart(t.Context(), key, id, n, strings.NewReader(body))
	if err != nil || etag == "" {
		t.Fatalf("UploadPart(%q, %d) = %q, %v", key, n, etag, err)
	}
	return blob.Part{Number: n, ETag: etag}
}

// wantErr checks that err matches sentinel, has kind and carries a client message.
func wantErr(t *testing.T, what string, err, sentinel error, kind fault.Kind) {
	t.Helper()
	if !errors.Is(err, sentinel) || fault.KindOf(err) != kind || fault.Message(err) == "" {
		t.Errorf("%s: got error %v (kind %v), want %v of kind %v", what, err, fault.KindOf(err), sentinel, kind)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// failReader fails the test if read: a method must refuse its input before reading the body.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the body was read although the request was invalid")
	return 0, io.EOF
}
