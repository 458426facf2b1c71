// Package benchtest holds the checks that the benchmarks' tests share on the files
// their generators write.
package benchtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

// Render runs a generator into memory and fails the test unless the size it reports
// is the size it wrote: the benchmarks print that size as the file's.
func Render(t testing.TB, write func(io.Writer) (int64, error)) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("the generator reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// SHA256 is the hex SHA-256 of b, what the golden tests pin a generated file by.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
