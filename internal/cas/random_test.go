package cas_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

// seekOnly hides an object's ReadAt, as a driver without one would.
type seekOnly struct{ obj blob.Object }

func (s seekOnly) Read(p []byte) (int, error)                { return s.obj.Read(p) }
func (s seekOnly) Seek(off int64, whence int) (int64, error) { return s.obj.Seek(off, whence) }
func (s seekOnly) Close() error                              { return s.obj.Close() }
func (s seekOnly) Info() blob.Info                           { return s.obj.Info() }

func TestOpenRandom(t *testing.T) {
	content := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name   string
		onOpen func(string, blob.Object) blob.Object
	}{
		{"reads at offsets itself", nil},
		{"seeks", func(_ string, obj blob.Object) blob.Object { return seekOnly{obj} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := blob.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			s := cas.New(&spyStore{Store: l, onOpen: tt.onOpen}, casPrefix)
			d, _, err := s.PutFile(t.Context(), strings.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.OpenRandom(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != int64(len(content)) {
				t.Fatalf("Size %d, want %d", r.Size(), len(content))
			}
			for _, off := range []int64{9990, 0, 4321} {
				buf := make([]byte, 10)
				n, err := r.ReadAt(buf, off)
				if want := content[off:min(off+10, int64(len(content)))]; string(buf[:n]) != want || (err != nil && err != io.EOF) {
					t.Errorf("ReadAt(%d) = %q, %v; want %q", off, buf[:n], err, want)
				}
			}
			if n, err := r.ReadAt(make([]byte, 20), 9995); n != 5 || err != io.EOF {
				t.Errorf("ReadAt past the end = %d, %v; want 5, EOF", n, err)
			}
			all, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
			if err != nil || !bytes.Equal(all, []byte(content)) {
				t.Errorf("whole object: %d bytes, %v", len(all), err)
			}
		})
	}
}

func TestOpenRandomMissing(t *testing.T) {
	f := newFixture(t)
	_, err := f.cas.OpenRandom(t.Context(), "sha256:"+strings.Repeat("0", 64))
	wantErr(t, "OpenRandom of a missing object", err, cas.ErrNotFound, fault.NotFound)
}
