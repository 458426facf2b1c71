package serving

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"net/http"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

func compress(t *testing.T, coding string, data []byte) []byte {
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zlib":
		w = zlib.NewWriter(&b)
	case "raw":
		w, _ = flate.NewWriter(&b, flate.BestSpeed)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestDecodeContent: gzip and deflate (zlib or raw) bodies decode within the limit; an
// inflating bomb is TooLarge, an unknown coding 415, a corrupt body Invalid.
func TestDecodeContent(t *testing.T) {
	doc := []byte(`{"inputs": []}`)
	for name, tc := range map[string]struct {
		header string
		body   []byte
		limit  int64
		kind   fault.Kind
		status int
	}{
		"none":         {"", doc, 100, 0, 0},
		"identity":     {"identity", doc, 100, 0, 0},
		"gzip":         {"gzip", compress(t, "gzip", doc), 100, 0, 0},
		"deflate zlib": {"deflate", compress(t, "zlib", doc), 100, 0, 0},
		"deflate raw":  {"Deflate", compress(t, "raw", doc), 100, 0, 0},
		"bomb":         {"gzip", compress(t, "gzip", make([]byte, 1<<20)), 1 << 10, fault.TooLarge, 0},
		"unknown":      {"br", doc, 100, fault.Invalid, http.StatusUnsupportedMediaType},
		"corrupt gzip": {"gzip", doc, 100, fault.Invalid, 0},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeContent(tc.header, tc.body, tc.limit)
			if tc.kind == 0 {
				if err != nil || !bytes.Equal(got, doc) {
					t.Fatalf("decodeContent = %q, %v", got, err)
				}
				return
			}
			if fault.KindOf(err) != tc.kind {
				t.Fatalf("decodeContent: %v, want kind %v", err, tc.kind)
			}
			var ce *httpx.CodedError
			if tc.status != 0 && (!errors.As(err, &ce) || ce.Status != tc.status) {
				t.Fatalf("decodeContent: %v, want status %d", err, tc.status)
			}
		})
	}
}
