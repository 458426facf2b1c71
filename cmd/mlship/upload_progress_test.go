package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// The bar of an upload reaches 100% when the last byte is sent, then a spinner says
// the server is still at work until it answers.
func TestUploadProgressReachesTheEnd(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		serverTime time.Duration // how long the server takes after the last byte
	}{
		{"quick answer", 5 << 20, 0},
		{"server still profiling", 5 << 20, 400 * time.Millisecond},
		{"one byte", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newUploadProgress(bytes.NewReader(make([]byte, tc.size)), &out, "data.csv", int64(tc.size))
			// The HTTP client reads in 32 KiB pieces, as net/http does.
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{p}, make([]byte, 32<<10))
			if err != nil || n != int64(tc.size) {
				t.Fatalf("copied %d, %v", n, err)
			}
			time.Sleep(tc.serverTime)
			p.Done()
			if !strings.Contains(out.String(), "100%") {
				t.Fatalf("the bar never showed 100%%:\n%q", out.String())
			}
			s := out.String()
			after, ok := strings.CutPrefix(s[strings.Index(s, "100%"):], "100%")
			if !ok || !strings.Contains(after, "the server is storing and profiling data.csv") {
				t.Errorf("no word of the server's work after the bar:\n%q", s)
			}
			if last := s[strings.LastIndex(strings.TrimSuffix(s, "\r"), "\r"):]; strings.TrimSpace(last) != "" {
				t.Errorf("the spinner is left on the line: %q", last)
			}
		})
	}
}
