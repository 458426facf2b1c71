package process

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/mlship/mlship/internal/runtime"
)

// The test binary doubles as a worker: started with MLSHIP_FAKE_WORKER set, TestMain
// runs fakeWorker instead of the tests. It is written from the protocol document, not
// from the server's codec, so that the two check each other.

const fakeWorkerEnv = "MLSHIP_FAKE_WORKER"

// fakeParams are the request params that steer the fake worker.
type fakeParams struct {
	SleepMS     int    `json:"sleep_ms"`
	Crash       bool   `json:"crash"`        // exit in the middle of the request
	CrashOnce   string `json:"crash_once"`   // crash if this file can be created
	Garbage     bool   `json:"garbage"`      // answer with a malformed frame
	Error       string `json:"error"`        // answer with this error
	ClientError bool   `json:"client_error"` // ... and mark it the client's
	// Pending: after the sleep, answer with an error that says how many bytes of
	// requests are already waiting in stdin.
	Pending bool `json:"pending"`
}

// fakeWorker serves the protocol on stdin and stdout. mode picks how it starts:
//
//	echo            ready, then echo every request
//	loadfail        report a load error
//	exitearly       write a traceback to stderr and exit 1
//	silent          never answer
//	failif:PATH     report a load error while PATH exists; else echo
//	exitafterready  exit as soon as it is ready
//	slowstart:MS    sleep MS milliseconds before it is ready, as a model loads; then echo
func fakeWorker(mode string) int {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(os.Stderr, "fake worker starting in mode %s\n", mode)
	switch {
	case mode == "loadfail":
		fakeSend(out, map[string]any{"ok": false, "error": "cannot unpickle the model: No module named 'fancylib'"}, nil)
		return 1
	case mode == "exitearly":
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\nImportError: numpy is broken")
		return 1
	case mode == "silent":
		time.Sleep(time.Minute)
		return 0
	case strings.HasPrefix(mode, "slowstart:"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(mode, "slowstart:"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case strings.HasPrefix(mode, "failif:"):
		if _, err := os.Stat(strings.TrimPrefix(mode, "failif:")); err == nil {
			fakeSend(out, map[string]any{"ok": false, "error": "marker file present"}, nil)
			return 1
		}
	}
	fakeSend(out, map[string]any{
		"ok": true, "protocol": 1, "platform": "fake_platform", "columns": false, "batchable": true,
		"inputs":  []map[string]any{{"name": "x", "datatype": "FP64", "shape": []int{-1, 4}}},
		"outputs": []map[string]any{},
	}, nil)
	if mode == "exitafterready" {
		fmt.Fprintln(os.Stderr, "ready and leaving")
		return 0
	}
	for fakeServe(in, out) {
	}
	return 0
}

// fakeServe answers one request; it reports false at the end of stdin.
func fakeServe(in *bufio.Reader, out *bufio.Writer) bool {
	var prefix [4]byte
	if _, err := io.ReadFull(in, prefix[:]); err != nil {
		return false
	}
	header := make([]byte, binary.LittleEndian.Uint32(prefix[:]))
	io.ReadFull(in, header)
	var req struct {
		Op     string       `json:"op"`
		Layout string       `json:"layout"`
		Inputs []wireTensor `json:"inputs"`
		Params fakeParams   `json:"params"`
	}
	if err := json.Unmarshal(header, &req); err != nil {
		panic(err)
	}
	if req.Op == "ping" {
		fakeSend(out, map[string]any{"ok": true}, nil)
		return true
	}
	bufs := make([][]byte, len(req.Inputs))
	for i, in2 := range req.Inputs {
		bufs[i] = make([]byte, in2.Nbytes)
		io.ReadFull(in, bufs[i])
	}
	p := req.Params
	time.Sleep(time.Duration(p.SleepMS) * time.Millisecond)
	switch {
	case p.Crash:
		os.Exit(3)
	case p.CrashOnce != "":
		if f, err := os.OpenFile(p.CrashOnce, os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
			os.Exit(3)
		}
	case p.Garbage:
		out.WriteString("\x05\x00\x00\x00{oops")
		out.Flush()
		return true
	case p.Error != "":
		fakeSend(out, map[string]any{"ok": false, "error": p.Error, "client_error": p.ClientError}, nil)
		return true
	case p.Pending:
		var n int32
		syscall.Syscall(syscall.SYS_IOCTL, os.Stdin.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		fakeSend(out, map[string]any{"ok": false, "error": fmt.Sprintf("pending %d", int(n)+in.Buffered()), "client_error": true}, nil)
		return true
	}
	fakeEcho(out, req.Layout, req.Inputs, bufs)
	return true
}

// fakeEcho answers with the inputs, then the worker's pid and the request's layout.
func fakeEcho(out *bufio.Writer, layout string, inputs []wireTensor, bufs [][]byte) {
	pid := binary.LittleEndian.AppendUint64(nil, uint64(os.Getpid()))
	lay := append(binary.LittleEndian.AppendUint32(nil, uint32(len(layout))), layout...)
	outs := append(inputs,
		wireTensor{Name: "pid", Datatype: runtime.Int64, Shape: []int64{1}, Nbytes: 8},
		wireTensor{Name: "layout", Datatype: runtime.Bytes, Shape: []int64{1}, Nbytes: int64(len(lay))})
	fakeSend(out, map[string]any{"ok": true, "kind": "dict", "outputs": outs}, append(bufs, pid, lay))
}

func fakeSend(out *bufio.Writer, header any, bufs [][]byte) {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(h))))
	out.Write(h)
	for _, b := range bufs {
		out.Write(b)
	}
	out.Flush()
}
