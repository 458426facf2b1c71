package httpx

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveEdge serves a handler that reads the whole body and answers its length, behind
// the edge with the given floor rate, on a real listener.
func serveEdge(t *testing.T, rate int64, grace time.Duration) string {
	t.Helper()
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			WriteError(w, r, slog.New(slog.DiscardHandler), err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]int64{"bytes": n})
	})
	h, err := Edge(EdgeOptions{Bind: "127.0.0.1", MinBodyRate: rate, BodyGrace: grace}, read)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, ln, h, slog.New(slog.DiscardHandler)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// dribble sends a request whose body of size bytes comes one byte per gap, and returns
// the answer's status line and how long the server took to give it, with whether the
// connection was closed after it.
func dribble(t *testing.T, addr string, size int, gap time.Duration) (status string, took time.Duration, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, size)
	answered := make(chan string, 1)
	br := bufio.NewReader(conn)
	go func() {
		line, _ := br.ReadString('\n')
		answered <- line
	}()
	for i := 0; i < size; i++ {
		select {
		case line := <-answered:
			return finish(conn, br, line, start)
		case <-time.After(gap):
		}
		if _, err := conn.Write([]byte{' '}); err != nil {
			break
		}
	}
	select {
	case line := <-answered:
		return finish(conn, br, line, start)
	case <-time.After(10 * time.Second):
		return "", time.Since(start), false
	}
}

func finish(conn net.Conn, br *bufio.Reader, line string, start time.Time) (string, time.Duration, bool) {
	took := time.Since(start)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, _ := io.ReadAll(br) // returns at EOF: the server closed the connection
	return strings.TrimSpace(line) + " " + string(rest), took, !isTimeout(conn)
}

func isTimeout(conn net.Conn) bool {
	var b [1]byte
	_, err := conn.Read(b[:])
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestSlowBodyIsCut(t *testing.T) {
	addr := serveEdge(t, 1024, time.Second)
	answer, took, closed := dribble(t, addr, 1000, 200*time.Millisecond)
	t.Logf("dribbling client answered after %s: %.120q", took, answer)
	if !strings.HasPrefix(answer, "HTTP/1.1 408") || !strings.Contains(answer, "DEADLINE_EXCEEDED") {
		t.Fatalf("answer %q, want 408 DEADLINE_EXCEEDED", answer)
	}
	if took < time.Second || took > 3*time.Second {
		t.Errorf("cut after %s, want about the 1 s grace", took)
	}
	if !closed {
		t.Errorf("the connection was left open after the cut")
	}
}

func TestBodyAtSpeedIsServed(t *testing.T) {
	addr := serveEdge(t, 1024, time.Second)
	// 64 MiB, well past the grace period's worth of the floor rate.
	body := bytes.Repeat([]byte("x"), 64<<20)
	resp, err := http.Post("http://"+addr+"/upload", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(got), fmt.Sprint(len(body))) {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
}

func TestSlowButSteadyBodyIsServed(t *testing.T) {
	// 4 KiB/s against a floor of 1 KiB/s, for longer than the grace period.
	addr := serveEdge(t, 1024, 500*time.Millisecond)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 12; i++ {
			pw.Write(bytes.Repeat([]byte("y"), 512))
			time.Sleep(125 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/upload", pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(got), "6144") {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
}

func TestLateReaderIsNotCut(t *testing.T) {
	// A handler that waits before reading must not have its wait held against a client
	// that sent everything at once.
	late := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	h, err := Edge(EdgeOptions{Bind: "127.0.0.1", MinBodyRate: 1 << 20, BodyGrace: time.Second}, late)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, h, slog.New(slog.DiscardHandler))
	resp, err := http.Post("http://"+ln.Addr().String()+"/x", "application/json", strings.NewReader(strings.Repeat("z", 100)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "100" {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
}
