package process

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mlship/mlship/internal/runtime"
)

// frame builds a frame from a JSON header and buffers.
func frame(header string, bufs ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(header)))
	b = append(b, header...)
	for _, buf := range bufs {
		b = append(b, buf...)
	}
	return b
}

func replyConn(data []byte) *conn { return newConn(bytes.NewReader(data), io.Discard) }

func TestRequestHeaderIsJSON(t *testing.T) {
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: []runtime.Tensor{
		runtime.NewFloat64("a\"\x00\xff", []int64{2}, []float64{1, 2}),
		runtime.NewStrings("s", []int64{2, 1}, []string{"xy", ""}),
	}}
	var got struct {
		Op     string         `json:"op"`
		Layout string         `json:"layout"`
		Inputs []wireTensor   `json:"inputs"`
		Params map[string]int `json:"params"`
	}
	h := appendRequestHeader(nil, req, []byte(`{"k":3}`))
	if err := json.Unmarshal(h, &got); err != nil {
		t.Fatalf("%s: %v", h, err)
	}
	want := `{predict columns [{a"` + "\x00\ufffd" + ` FP64 [2] 16 []} {s BYTES [2 1] 10 []}] map[k:3]}`
	if s := fmt.Sprint(got); s != want {
		t.Fatalf("header decodes to\n%s\nwant\n%s", s, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x1f\t\n", "é€😀", "\u2028\u2029", "bad\xffutf8\xc3"} {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(s) // encoding/json's treatment of invalid UTF-8 is the reference
		json.Unmarshal(std, &want)
		if got != want {
			t.Errorf("%q decodes to %q, want %q", s, got, want)
		}
	}
}

func TestReadReply(t *testing.T) {
	strs := []byte("\x02\x00\x00\x00hi\x00\x00\x00\x00")
	resp, err := replyConn(frame(`{"ok":true,"kind":"table","outputs":[`+
		`{"name":"p","datatype":"FP64","shape":[1],"nbytes":8},`+
		`{"name":"s","datatype":"BYTES","shape":[2],"nbytes":10}]}`,
		make([]byte, 8), strs)).readReply()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Kind != runtime.ResultTable || len(resp.Outputs) != 2 || fmt.Sprintf("%q", resp.Outputs[1].Strings) != `["hi" ""]` {
		t.Fatalf("reply = %+v", resp)
	}
	if resp.Outputs[1].Strings[1] == nil {
		t.Fatal("an empty string is not a missing value")
	}
}

// TestReadReplyNulls: the elements a worker lists as nulls are missing values (nil),
// the others keep their bytes, empty ones included.
func TestReadReplyNulls(t *testing.T) {
	strs := []byte("\x02\x00\x00\x00hi\x00\x00\x00\x00\x00\x00\x00\x00")
	resp, err := replyConn(frame(`{"ok":true,"kind":"table","outputs":[`+
		`{"name":"s","datatype":"BYTES","shape":[3],"nbytes":14,"nulls":[2]}]}`, strs)).readReply()
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Outputs[0].Strings
	if string(got[0]) != "hi" || got[1] == nil || got[2] != nil {
		t.Fatalf("strings = %q", got)
	}
}

func TestReadReplyRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short prefix", []byte{1, 0}, io.ErrUnexpectedEOF},
		{"short header", frame(`{"ok":true}`)[:8], io.ErrUnexpectedEOF},
		{"huge header", binary.LittleEndian.AppendUint32(nil, maxHeader+1), errMalformed},
		{"not JSON", frame(`{ok`), errMalformed},
		{"unknown datatype", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"FP8","shape":[1],"nbytes":1}]}`), errMalformed},
		{"size disagrees with shape", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"FP64","shape":[2],"nbytes":8}]}`), errMalformed},
		{"negative dimension", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"FP64","shape":[-1],"nbytes":8}]}`), errMalformed},
		{"too large", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"UINT8","shape":[268435456],"nbytes":268435456},` +
			`{"name":"y","datatype":"FP64","shape":[268435456],"nbytes":2147483648},{"name":"z","datatype":"FP64","shape":[268435456],"nbytes":2147483648}]}`), errMalformed},
		{"buffer cut short", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"FP64","shape":[1],"nbytes":8}]}`, []byte{1, 2}), io.ErrUnexpectedEOF},
		{"huge buffer cut short", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"UINT8","shape":[100000000],"nbytes":100000000}]}`), io.ErrUnexpectedEOF},
		{"string overruns", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"BYTES","shape":[1],"nbytes":5}]}`, []byte{9, 0, 0, 0, 'a'}), errMalformed},
		{"bytes after strings", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"BYTES","shape":[1],"nbytes":6}]}`, []byte{1, 0, 0, 0, 'a', 'b'}), errMalformed},
		{"null out of range", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"BYTES","shape":[1],"nbytes":4,"nulls":[1]}]}`, []byte{0, 0, 0, 0}), errMalformed},
		{"null in numbers", frame(`{"ok":true,"outputs":[{"name":"x","datatype":"FP64","shape":[1],"nbytes":8,"nulls":[0]}]}`, make([]byte, 8)), errMalformed},
		{"error with outputs", frame(`{"ok":false,"error":"x","outputs":[{"name":"x","datatype":"FP64","shape":[0],"nbytes":0}]}`), errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := replyConn(tt.data).readReply()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadReplyWorkerError(t *testing.T) {
	_, err := replyConn(frame(`{"ok":false,"error":"bad column","client_error":true}`)).readReply()
	var werr *workerError
	if !errors.As(err, &werr) || !werr.client || werr.msg != "bad column" {
		t.Fatalf("err = %#v", err)
	}
}

// FuzzReadReply: no frame makes the reader panic, and every reply it accepts holds
// tensors whose data agrees with their shape.
func FuzzReadReply(f *testing.F) {
	f.Add(frame(`{"ok":true,"kind":"array","outputs":[{"name":"p","datatype":"FP64","shape":[1],"nbytes":8}]}`, make([]byte, 8)))
	f.Add(frame(`{"ok":true,"outputs":[{"name":"s","datatype":"BYTES","shape":[1],"nbytes":6}]}`, []byte("\x02\x00\x00\x00hi")))
	f.Add(frame(`{"ok":false,"error":"e","client_error":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := replyConn(data).readReply()
		if err != nil {
			return
		}
		for i := range resp.Outputs {
			if err := resp.Outputs[i].Check(); err != nil {
				t.Fatalf("accepted output fails its check: %v", err)
			}
		}
	})
}

func FuzzReadReady(f *testing.F) {
	f.Add(frame(`{"ok":true,"protocol":1,"platform":"p","inputs":[{"name":"x","datatype":"FP64","shape":[-1,4]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		replyConn(data).readReady()
	})
}
