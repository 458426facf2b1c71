package serving

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// readBody reads a request body under the route's limit, decoding a Content-Encoding
// of gzip or deflate (tritonclient's request_compression_algorithm) under the same
// limit: a body that inflates past it is refused as too large, so a small compressed
// body cannot expand into gigabytes on the server.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, fault.New(fault.TooLarge, "the request body is over the limit of %d bytes", tooBig.Limit)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "could not read the request body")
	}
	return decodeContent(r.Header.Get("Content-Encoding"), body, h.opts.MaxBody)
}

// decodeContent undoes the encodings named by a Content-Encoding header, last applied
// first, keeping the result within limit bytes.
func decodeContent(header string, body []byte, limit int64) ([]byte, error) {
	codings := strings.Split(header, ",")
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		if coding == "" || coding == "identity" {
			continue
		}
		zr, err := decompressor(coding, body)
		if err != nil {
			return nil, err
		}
		if body, err = inflate(coding, zr, limit); err != nil {
			return nil, err
		}
	}
	return body, nil
}

func decompressor(coding string, body []byte) (io.Reader, error) {
	var (
		zr  io.Reader
		err error
	)
	switch coding {
	case "gzip", "x-gzip":
		zr, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		// HTTP's deflate is the zlib format; some clients send a raw deflate stream.
		if zr, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
			zr, err = flate.NewReader(bufio.NewReader(bytes.NewReader(body))), nil
		}
	default:
		return nil, &httpx.CodedError{Code: "BAD_REQUEST", Status: http.StatusUnsupportedMediaType,
			Err: fault.Invalidf("Content-Encoding %q is not supported: send the body as is, or with gzip or deflate", coding)}
	}
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the request body is not valid %s: %v", coding, err)
	}
	return zr, nil
}

func inflate(coding string, zr io.Reader, limit int64) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "the request body is not valid %s: %v", coding, err)
	}
	if int64(len(out)) > limit {
		return nil, fault.New(fault.TooLarge, "the request body decompresses to over the limit of %d bytes", limit)
	}
	return out, nil
}
