package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A 1 GiB artifact (256 MiB under the race detector) streams through the server both ways
// without the server holding it: its peak resident memory grows by less than 100 MiB.
func TestArtifactStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB (256 MiB under the race detector) through a real server")
	}
	size := int64(1 << 30)
	if raceEnabled {
		size = 256 << 20 // the race detector makes each byte slow; still far beyond the bound below
	}
	p := startServer(t, t.TempDir())
	defer p.kill9()
	pid := p.cmd.Process.Pid
	before := procStatus(t, pid, "VmHWM")

	up := sha256.New()
	body := io.TeeReader(io.LimitReader(newPattern(), size), up)
	url := p.base + "/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/big.bin"
	req, _ := http.NewRequest(http.MethodPut, url, body)
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}

	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	down := sha256.New()
	n, err := io.Copy(down, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if fmt.Sprintf("%x", up.Sum(nil)) != fmt.Sprintf("%x", down.Sum(nil)) {
		t.Fatal("downloaded bytes differ from uploaded bytes")
	}
	after := procStatus(t, pid, "VmHWM")
	growth := after - before
	t.Logf("peak RSS %d MiB before, %d MiB after %d MiB up and down (growth %d MiB)", before>>20, after>>20, size>>20, growth>>20)
	if growth >= 100<<20 {
		t.Fatalf("peak resident memory grew by %d MiB moving %d MiB; want < 100 MiB", growth>>20, size>>20)
	}
}

// pattern is an endless stream of pseudo-random bytes, cheap to produce.
type pattern struct{ x uint64 }

func newPattern() *pattern { return &pattern{x: 0x9e3779b97f4a7c15} }

func (p *pattern) Read(b []byte) (int, error) {
	var word [8]byte
	for i := 0; i < len(b); i += 8 {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		binary.LittleEndian.PutUint64(word[:], p.x)
		copy(b[i:], word[:])
	}
	return len(b), nil
}

// procStatus reads a memory figure, in bytes, from /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("%s not in /proc/%d/status", field, pid)
	return 0
}
