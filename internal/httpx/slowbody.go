package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// limitRate serves r with a body that must keep arriving: the time the handler spends
// waiting in Read may not exceed the grace period plus the time the bytes received so
// far would take at the minimum rate. Only waiting counts, so a handler that reads late
// does not hold its client's time against it. A body cut short is answered 408 and the
// connection is closed, so a client dribbling bytes holds a connection for about the
// grace period, not forever.
func (e *edge) limitRate(w http.ResponseWriter, r *http.Request) {
	b := &rateBody{body: r.Body, rc: http.NewResponseController(w), grace: e.grace, rate: e.rate}
	if err := b.rc.SetReadDeadline(time.Time{}); err != nil {
		e.next.ServeHTTP(w, r) // no connection underneath (a test recorder)
		return
	}
	cw := &cutWriter{ResponseWriter: w, body: b}
	r.Body = b
	e.next.ServeHTTP(cw, r)
	if !b.cut.Load() || cw.wrote {
		return
	}
	w.Header().Set("Connection", "close")
	WriteError(w, r, e.logger, &CodedError{Code: "DEADLINE_EXCEEDED", Status: http.StatusRequestTimeout,
		Err: fault.New(fault.DeadlineExceeded, "The request body arrived slower than %d bytes per second (after a grace of %s); the request was cut. Send the body at network speed, or raise --min-body-rate.", e.rate, e.grace)})
}

// rateBody is a request body whose reads are bounded by a deadline that grows with the
// bytes received.
type rateBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	grace  time.Duration
	rate   int64
	n      int64         // bytes received
	waited time.Duration // time spent waiting in Read
	done   bool
	cut    atomic.Bool
}

var errBodyCut = errors.New("request body arrived too slowly")

func (b *rateBody) Read(p []byte) (int, error) {
	if b.cut.Load() {
		return 0, errBodyCut
	}
	if b.done {
		return b.body.Read(p)
	}
	budget := b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)) - b.waited
	start := time.Now()
	b.rc.SetReadDeadline(start.Add(max(budget, 0)))
	n, err := b.body.Read(p)
	b.waited += time.Since(start)
	b.n += int64(n)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.cut.Store(true)
		return n, errBodyCut
	case err != nil:
		// The whole body is in (or the connection is gone): the deadline must not outlive
		// it, or the server's wait for the next request would trip over it.
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *rateBody) Close() error { return b.body.Close() }

// cutWriter drops what a handler writes once its body has been cut, so that the 408
// is the answer.
type cutWriter struct {
	http.ResponseWriter
	body  *rateBody
	wrote bool
}

func (c *cutWriter) WriteHeader(code int) {
	if c.body.cut.Load() && !c.wrote {
		return
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.body.cut.Load() && !c.wrote {
		return 0, errBodyCut
	}
	c.wrote = true
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
