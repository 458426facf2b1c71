package registry

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckSource holds the source checks to their promise: whatever is accepted is
// stored in a form that, decoded any number of times, has no '..' or '.' segment, no
// fragment, query, parameter, backslash or control character, and that checks to itself.
func FuzzCheckSource(f *testing.F) {
	for _, seed := range []string{
		"mlflow-artifacts:/0/r/artifacts/model", "mlflow-artifacts:/1/%252e%252e/x", "runs:/r1/model",
		"models:/m-0123456789abcdef0123456789abcdef", "models:/name/3", "s3://bucket//a/", "file:///etc/",
		"//proc/self/root", "http:///?/../", "mlflow-artifacts:/a#/../..", "s3://b/%2e%2E/x",
	} {
		f.Add(seed)
	}
	s := &Service{opts: Options{SourceSchemes: []string{"s3", "https"}}}
	f.Fuzz(func(t *testing.T, raw string) {
		src, err := s.checkSource(raw, false)
		if err != nil {
			return
		}
		if why := unsafeText(src.canonical); why != "" {
			t.Fatalf("%q accepted as %q, which is unsafe: %s", raw, src.canonical, why)
		}
		for d, i := src.canonical, 0; i < 8; i++ {
			if strings.ContainsAny(d, "#?;\\") || hasDotSegment(d) {
				t.Fatalf("%q accepted as %q, which decodes to %q", raw, src.canonical, d)
			}
			next, err := url.PathUnescape(d)
			if err != nil || next == d {
				break
			}
			d = next
		}
		again, err := s.checkSource(src.canonical, false)
		if err != nil || again.canonical != src.canonical {
			t.Fatalf("%q accepted as %q, which checks to %q (%v)", raw, src.canonical, again.canonical, err)
		}
	})
}
