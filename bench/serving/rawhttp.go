package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawClient is the load tool's HTTP/1.1 keep-alive client: one connection, a request
// built once and written whole, and a response read with no allocation beyond the
// body. net/http's client spends more CPU per request than a fast server does, and on
// a small machine the load tool's CPU is taken from the server under test; this client
// keeps the tool's share small, the same for every server.
type rawClient struct {
	addr    string
	request []byte
	timeout time.Duration
	conn    net.Conn
	r       *bufio.Reader
}

func newRawClient(baseURL, path string, body []byte, timeout time.Duration) (*rawClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, u.Host, len(body))
	req.Write(body)
	return &rawClient{addr: u.Host, request: req.Bytes(), timeout: timeout}, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// do sends the request and reads the whole answer into answer. Any error closes the
// connection; the next call opens a new one.
func (c *rawClient) do(ctx context.Context, answer *bytes.Buffer) (int, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	status, err := c.exchange(answer)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawClient) exchange(answer *bytes.Buffer) (int, error) {
	if _, err := c.conn.Write(c.request); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = c.readChunked(answer)
	case length >= 0:
		_, err = io.CopyN(answer, c.r, int64(length))
	default:
		return 0, errors.New("response with neither Content-Length nor chunked encoding")
	}
	if err == nil && closing {
		c.close()
	}
	return status, err
}

func (c *rawClient) readChunked(answer *bytes.Buffer) error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			for { // trailers, then the blank line
				l, err := c.r.ReadSlice('\n')
				if err != nil || len(bytes.TrimSpace(l)) == 0 {
					return err
				}
			}
		}
		if _, err := io.CopyN(answer, c.r, size); err != nil {
			return err
		}
		if _, err := c.r.Discard(2); err != nil {
			return err
		}
	}
}
