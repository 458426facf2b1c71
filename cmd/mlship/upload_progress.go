package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// uploadProgress draws the progress of a file upload in two phases: a bar of the
// bytes sent, which reaches 100% when the last byte is handed to the connection,
// then a spinner while the server, which reads the upload as it stores and profiles
// it, finishes with the bytes still in flight and answers.
//
// The bar counts reads by the HTTP client, which run ahead of the server by what the
// connection buffers (megabytes), so its start is drawn before the first read and it
// is redrawn at most every tenth of a second: its rate is then the average since the
// upload began, not the speed of filling a buffer.
type uploadProgress struct {
	r    io.Reader
	w    io.Writer
	file string
	size int64

	mu      sync.Mutex
	sent    int64
	bar     *progressbar.ProgressBar
	spinner *progressbar.ProgressBar
}

func newUploadProgress(r io.Reader, w io.Writer, file string, size int64) *uploadProgress {
	bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetDescription("sending "+file), progressbar.OptionFullWidth())
	bar.RenderBlank()
	return &uploadProgress{r: r, w: w, file: file, size: size, bar: bar}
}

func (u *uploadProgress) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sent += int64(n)
	u.bar.Add(n)
	if (err == io.EOF || u.sent >= u.size) && u.spinner == nil {
		u.waitForServer()
	}
	return n, err
}

// waitForServer ends the bar at 100% and starts the spinner.
func (u *uploadProgress) waitForServer() {
	u.bar.Finish()
	fmt.Fprintln(u.w)
	u.spinner = progressbar.NewOptions(-1, progressbar.OptionSetWriter(u.w), progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14), progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetDescription("sent; the server is storing and profiling "+u.file))
	u.spinner.RenderBlank() // it turns only once drawn
}

// Done clears the spinner once the server has answered (or the upload failed).
func (u *uploadProgress) Done() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.spinner == nil { // it failed before the end
		u.bar.Exit()
		fmt.Fprintln(u.w)
		return
	}
	u.spinner.Finish()
}
