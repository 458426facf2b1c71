package httpx

import (
	"errors"
	"io"
	"net/http"

	"github.com/mlship/mlship/internal/fault"
)

// UploadBody returns r's body for a handler that streams it into storage. A read that
// fails is the client's doing (it hung up mid-upload, sent fewer bytes than its
// Content-Length, or broke the chunked encoding), so it becomes a fault.Invalid error,
// answered 400 and logged at debug level like any client mistake, never an internal
// error. A body over its size limit keeps its own error (413).
func UploadBody(r *http.Request) io.Reader { return uploadBody{r.Body} }

type uploadBody struct{ r io.Reader }

func (b uploadBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return n, err
	}
	return n, fault.Wrap(fault.Invalid, err, "the request body ended early: the client hung up mid-upload "+
		"or sent less than its Content-Length")
}
