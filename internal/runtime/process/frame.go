package process

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mlship/mlship/internal/runtime"
)

// The wire format is described in docs/worker-protocol.md: every frame is a u32
// little-endian header length, a JSON header, then the raw buffers whose sizes the
// header lists, in order.

// protocolVersion is the version a worker must report in its ready frame.
const protocolVersion = 1

const (
	// maxHeader bounds a frame's JSON header, so that a corrupt length cannot make
	// the server allocate gigabytes.
	maxHeader = 16 << 20
	// maxPayload bounds the buffers of one reply.
	maxPayload = 4 << 30
	// bufferSize is the size of each pipe's bufio buffer: a batch-1 request and its
	// reply fit, so each crosses the pipe in one system call.
	bufferSize = 64 << 10
)

// errMalformed marks a frame that breaks the protocol. The worker that sent it cannot
// be trusted to stay in step, so it is replaced.
var errMalformed = errors.New("malformed frame from worker")

// wireTensor describes one tensor of a frame; its buffer follows the header.
type wireTensor struct {
	Name     string           `json:"name"`
	Datatype runtime.Datatype `json:"datatype"`
	Shape    []int64          `json:"shape"`
	Nbytes   int64            `json:"nbytes"`
	// Nulls lists, for a BYTES output, the elements that are missing values (None,
	// NaN), which the buffer carries as empty strings.
	Nulls []int64 `json:"nulls,omitempty"`
}

// readyFrame is a worker's first frame: its metadata, or why the model did not load.
type readyFrame struct {
	OK        bool                 `json:"ok"`
	Error     string               `json:"error"`
	Protocol  int                  `json:"protocol"`
	Platform  string               `json:"platform"`
	Inputs    []runtime.TensorSpec `json:"inputs"`
	Outputs   []runtime.TensorSpec `json:"outputs"`
	Columns   bool                 `json:"columns"`
	Batchable bool                 `json:"batchable"`
}

func (f *readyFrame) metadata() runtime.Metadata {
	return runtime.Metadata{
		Platform: f.Platform, Inputs: f.Inputs, Outputs: f.Outputs,
		Columns: f.Columns, Batchable: f.Batchable,
	}
}

// replyFrame is a worker's answer to a request.
type replyFrame struct {
	OK          bool               `json:"ok"`
	Error       string             `json:"error"`
	ClientError bool               `json:"client_error"`
	Kind        runtime.ResultKind `json:"kind"`
	Outputs     []wireTensor       `json:"outputs"`
}

// workerError is an error the worker reported in a well-formed reply: the worker is
// healthy and stays in service.
type workerError struct {
	msg    string
	client bool
}

func (e *workerError) Error() string { return e.msg }

// conn is the server's end of one worker's pipes. Its reading side and its writing
// side are each used by one goroutine at a time, but the two may be used at once (a
// request is written while the reply before it is read), so each has its own
// buffers, reused from request to request.
type conn struct {
	r       *bufio.Reader
	w       *bufio.Writer
	wprefix [4]byte
	wheader []byte
	rprefix [4]byte
	rheader []byte
}

func newConn(r io.Reader, w io.Writer) *conn {
	return &conn{r: bufio.NewReaderSize(r, bufferSize), w: bufio.NewWriterSize(w, bufferSize)}
}

// writeRequest sends a predict frame. params is the request's params as JSON, or nil.
func (c *conn) writeRequest(req *runtime.Request, params []byte) error {
	h := appendRequestHeader(c.wheader[:0], req, params)
	c.wheader = h
	c.w.Write(binary.LittleEndian.AppendUint32(c.wprefix[:0], uint32(len(h))))
	c.w.Write(h)
	for i := range req.Inputs {
		t := &req.Inputs[i]
		if t.Datatype != runtime.Bytes {
			c.w.Write(t.Data)
			continue
		}
		for _, s := range t.Strings {
			c.w.Write(binary.LittleEndian.AppendUint32(c.wprefix[:0], uint32(len(s))))
			c.w.Write(s)
		}
	}
	return c.w.Flush()
}

// writePing sends a ping frame, which a worker answers with {"ok":true}.
func (c *conn) writePing() error {
	const ping = `{"op":"ping"}`
	c.w.Write(binary.LittleEndian.AppendUint32(c.wprefix[:0], uint32(len(ping))))
	c.w.WriteString(ping)
	return c.w.Flush()
}

// appendRequestHeader appends the JSON header of a predict frame. It is written by
// hand because it is on every request's path and its shape is fixed.
func appendRequestHeader(b []byte, req *runtime.Request, params []byte) []byte {
	b = append(b, `{"op":"predict","layout":"`...)
	b = append(b, req.Layout.String()...)
	b = append(b, `","inputs":[`...)
	for i := range req.Inputs {
		t := &req.Inputs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, t.Name)
		b = append(b, `,"datatype":`...)
		b = appendJSONString(b, string(t.Datatype))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"nbytes":`...)
		b = strconv.AppendInt(b, payloadSize(t), 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

// payloadSize is the size of a tensor's buffer on the wire.
func payloadSize(t *runtime.Tensor) int64 {
	if t.Datatype != runtime.Bytes {
		return int64(len(t.Data))
	}
	n := int64(4 * len(t.Strings))
	for _, s := range t.Strings {
		n += int64(len(s))
	}
	return n
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == 0x2028 || r == 0x2029:
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// readHeader reads one frame's JSON header into the conn's reused buffer.
func (c *conn) readHeader() ([]byte, error) {
	if _, err := io.ReadFull(c.r, c.rprefix[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(c.rprefix[:])
	if n > maxHeader {
		return nil, fmt.Errorf("%w: header of %d bytes", errMalformed, n)
	}
	if cap(c.rheader) < int(n) {
		c.rheader = make([]byte, n)
	}
	c.rheader = c.rheader[:n]
	if _, err := io.ReadFull(c.r, c.rheader); err != nil {
		return nil, unexpectedEOF(err)
	}
	return c.rheader, nil
}

// readReady reads a worker's first frame.
func (c *conn) readReady() (*readyFrame, error) {
	h, err := c.readHeader()
	if err != nil {
		return nil, err
	}
	var f readyFrame
	if err := json.Unmarshal(h, &f); err != nil {
		return nil, fmt.Errorf("%w: ready header: %v", errMalformed, err)
	}
	return &f, nil
}

// readReply reads a worker's answer. A reply with ok false is returned as a
// *workerError; any other error means the worker is out of step or gone.
func (c *conn) readReply() (*runtime.Response, error) {
	h, err := c.readHeader()
	if err != nil {
		return nil, err
	}
	var f replyFrame
	if err := json.Unmarshal(h, &f); err != nil {
		return nil, fmt.Errorf("%w: reply header: %v", errMalformed, err)
	}
	if !f.OK {
		if len(f.Outputs) > 0 {
			return nil, fmt.Errorf("%w: an error reply lists outputs", errMalformed)
		}
		if f.Error == "" {
			f.Error = "the worker reported an error without a message"
		}
		return nil, &workerError{msg: f.Error, client: f.ClientError}
	}
	if err := checkOutputs(f.Outputs); err != nil {
		return nil, err
	}
	resp := &runtime.Response{Kind: f.Kind, Outputs: make([]runtime.Tensor, len(f.Outputs))}
	if resp.Kind == "" {
		resp.Kind = runtime.ResultArray
	}
	for i, wt := range f.Outputs {
		if resp.Outputs[i], err = c.readTensor(wt); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// checkOutputs validates every output's description before any buffer is read or
// allocated.
func checkOutputs(outs []wireTensor) error {
	var total int64
	for _, wt := range outs {
		if !wt.Datatype.Valid() {
			return fmt.Errorf("%w: output %q has unknown datatype %q", errMalformed, wt.Name, wt.Datatype)
		}
		n := runtime.Elements(wt.Shape)
		if n < 0 || wt.Nbytes < 0 {
			return fmt.Errorf("%w: output %q has invalid shape %v or size %d", errMalformed, wt.Name, wt.Shape, wt.Nbytes)
		}
		size := int64(wt.Datatype.Size())
		if (size > 0 && wt.Nbytes != n*size) || (size == 0 && wt.Nbytes < 4*n) {
			return fmt.Errorf("%w: output %q: %d bytes do not fit %s%v", errMalformed, wt.Name, wt.Nbytes, wt.Datatype, wt.Shape)
		}
		for _, i := range wt.Nulls {
			if size > 0 || i < 0 || i >= n {
				return fmt.Errorf("%w: output %q: null element %d is not a string of %v", errMalformed, wt.Name, i, wt.Shape)
			}
		}
		if total += wt.Nbytes; total > maxPayload {
			return fmt.Errorf("%w: reply of more than %d bytes", errMalformed, int64(maxPayload))
		}
	}
	return nil
}

// readTensor reads the buffer of one checked output.
func (c *conn) readTensor(wt wireTensor) (runtime.Tensor, error) {
	t := runtime.Tensor{Name: wt.Name, Datatype: wt.Datatype, Shape: wt.Shape}
	if t.Shape == nil {
		t.Shape = []int64{}
	}
	data, err := readBuffer(c.r, wt.Nbytes)
	if err != nil {
		return t, err
	}
	if t.Datatype != runtime.Bytes {
		t.Data = data
		return t, nil
	}
	strs, err := splitStrings(data, runtime.Elements(t.Shape))
	if err != nil {
		return t, fmt.Errorf("%w: output %q: %v", errMalformed, t.Name, err)
	}
	for _, i := range wt.Nulls {
		strs[i] = nil
	}
	t.Strings = strs
	return t, nil
}

// readBuffer reads n bytes. A large buffer grows as its bytes arrive, so that a size
// in a corrupt header costs memory only for the bytes actually sent.
func readBuffer(r io.Reader, n int64) ([]byte, error) {
	const step = 1 << 20
	b := make([]byte, 0, min(n, step))
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(n-int64(len(b)), int64(len(b)))))
		}
		k, err := io.ReadFull(r, b[len(b):min(int64(cap(b)), n)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return b, nil
}

// splitStrings cuts a BYTES buffer (u32 length, bytes, for each element) into n
// elements that share it.
func splitStrings(data []byte, n int64) ([][]byte, error) {
	strs := make([][]byte, n)
	for i := range strs {
		if len(data) < 4 {
			return nil, fmt.Errorf("element %d: buffer ends early", i)
		}
		k := binary.LittleEndian.Uint32(data)
		data = data[4:]
		if uint64(k) > uint64(len(data)) {
			return nil, fmt.Errorf("element %d: length %d overruns the buffer", i, k)
		}
		strs[i] = data[:k:k]
		data = data[k:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%d bytes after the last element", len(data))
	}
	return strs, nil
}

// unexpectedEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
