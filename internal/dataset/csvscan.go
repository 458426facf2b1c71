package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"
)

// csvBufferSize is the read buffer of a CSV reader. It grows, up to the
// record limit, only to hold a longer line.
const csvBufferSize = 256 << 10

// errInvalidComma is encoding/csv's error for an unusable delimiter.
var errInvalidComma = errors.New("csv: invalid field or comment delimiter")

// validComma reports whether encoding/csv accepts r as a field delimiter.
func validComma(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

// csvScanner splits CSV into records as encoding/csv does with LazyQuotes off
// (RFC 4180 quoting, "\r\n" read as "\n", blank lines skipped, a '\r' before
// the end of the input dropped), without a string per field: a line without
// quotes is handed out as a view into the read buffer, and only records with
// quoted fields are copied.
//
// It parses at most the first limit bytes of a record (counting every byte
// up to the newline that ends it); a longer record fails with
// ErrRecordTooLarge unless those bytes are already malformed.
type csvScanner struct {
	r       io.Reader
	buf     []byte
	pos     int   // start of the unread bytes in buf
	end     int   // end of the bytes read into buf
	scanned int   // buf[pos:scanned] holds no '\n'
	err     error // the input's error (io.EOF at its end), once buf[pos:end] is used up
	limit   int
	comma   []byte // the delimiter's UTF-8 encoding

	line    int64 // lines read so far
	recLine int64 // line the current record starts on
	recLen  int   // bytes of the current record read so far

	// The fields of a record that had quotes: text holds them back to back,
	// ends their ends.
	text []byte
	ends []int
}

func newCSVScanner(r io.Reader, comma rune, limit, bufSize int) *csvScanner {
	s := &csvScanner{r: r, buf: make([]byte, max(bufSize, 16)), limit: limit, comma: utf8.AppendRune(nil, comma)}
	for s.end < 3 && s.err == nil {
		s.fill(limit)
	}
	if bytes.HasPrefix(s.buf[:s.end], []byte("\xEF\xBB\xBF")) {
		s.pos, s.scanned = 3, 3
	}
	return s
}

// next reads the next record. When quoted is false the record is line, a
// line without quotes whose fields are its comma-separated parts; otherwise
// its fields are in text and ends. It returns io.EOF at the end of the input.
func (s *csvScanner) next() (line []byte, quoted bool, err error) {
	var errRead error
	for errRead == nil {
		s.recLine, s.recLen = s.line+1, 0
		line, errRead = s.readLine()
		if errRead != nil || len(line) != lengthNL(line) {
			break
		}
	}
	if errRead == io.EOF {
		return nil, false, io.EOF
	}
	if bytes.IndexByte(line, '"') < 0 {
		// No field can be malformed, so a failed read is the record's error.
		return line[:len(line)-lengthNL(line)], false, errRead
	}
	return nil, true, s.parse(line, errRead)
}

// readLine returns the next line, newline included, with "\r\n" turned into
// "\n". Past the end of the record's allowance it returns what fits and the
// too-large error.
func (s *csvScanner) readLine() ([]byte, error) {
	avail := s.limit - s.recLen
	for {
		if i := bytes.IndexByte(s.buf[s.scanned:s.end], '\n'); i >= 0 {
			nl := s.scanned + i
			if nl-s.pos > avail {
				return s.cut(avail)
			}
			return s.take(nl+1, nil)
		}
		s.scanned = s.end
		if s.end-s.pos > avail {
			return s.cut(avail)
		}
		if s.err != nil {
			return s.take(s.end, s.err)
		}
		s.fill(avail)
	}
}

// take consumes buf[pos:n] as a line, as encoding/csv's readLine does.
func (s *csvScanner) take(n int, err error) ([]byte, error) {
	line := s.buf[s.pos:n]
	s.pos, s.scanned = n, n
	s.recLen += len(line)
	s.line++
	if len(line) > 0 && err == io.EOF {
		err = nil
		if line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, err
}

// cut ends the input after the first avail bytes of the line: the record is
// too large.
func (s *csvScanner) cut(avail int) ([]byte, error) {
	line := s.buf[s.pos : s.pos+max(avail, 0)]
	s.line++
	s.pos, s.scanned = s.end, s.end
	s.err = lineError(s.recLine, "", ErrRecordTooLarge, "more than %d bytes", s.limit)
	return line, s.err
}

// fill reads more input, first moving the unread bytes to the front of buf
// and, when they fill it, growing buf towards avail+1 bytes: enough to tell
// that a line is too long.
func (s *csvScanner) fill(avail int) {
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.scanned -= s.pos
		s.pos = 0
	}
	if s.end == len(s.buf) {
		grown := make([]byte, min(2*len(s.buf), avail+1))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	const maxEmptyReads = 100 // as bufio
	for range maxEmptyReads {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

// fieldCount returns the number of fields of the last quoted record.
func (s *csvScanner) fieldCount() int { return len(s.ends) }

// field returns field i of the last quoted record.
func (s *csvScanner) field(i int) []byte {
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.text[start:s.ends[i]]
}

// split copies the fields of a line without quotes to text and ends.
func (s *csvScanner) split(line []byte) {
	s.text, s.ends = append(s.text[:0], line...), s.ends[:0]
	for off := 0; ; {
		i := indexComma(s.text[off:], s.comma)
		if i < 0 {
			s.ends = append(s.ends, len(s.text))
			break
		}
		s.text = append(s.text[:off+i], s.text[off+i+len(s.comma):]...)
		off += i
		s.ends = append(s.ends, off)
	}
}

// csvParse is the state of parsing one record, as in encoding/csv's
// readRecord.
type csvParse struct {
	line    []byte // rest of the current line
	errRead error  // the error that came with it
	lineNo  int64  // line of the current position
	col     int    // 1-based byte column of the current position
	start   int64  // line the record starts on
}

// parse reads a record whose first line, line, has a quote into text and
// ends, following encoding/csv's readRecord.
func (s *csvScanner) parse(line []byte, errRead error) error {
	s.text, s.ends = s.text[:0], s.ends[:0]
	p := &csvParse{line: line, errRead: errRead, lineNo: s.line, col: 1, start: s.line}
	for {
		var more bool
		var err error
		if len(p.line) == 0 || p.line[0] != '"' {
			more, err = s.unquotedField(p)
		} else {
			more, err = s.quotedField(p)
		}
		if err != nil {
			return err
		}
		if !more {
			return p.errRead
		}
	}
}

// unquotedField parses a field without quotes and reports whether another
// follows on the line.
func (s *csvScanner) unquotedField(p *csvParse) (more bool, err error) {
	i := indexComma(p.line, s.comma)
	field := p.line
	if i >= 0 {
		field = field[:i]
	} else {
		field = field[:len(field)-lengthNL(field)]
	}
	if j := bytes.IndexByte(field, '"'); j >= 0 {
		return false, malformed(s.line, csv.ErrBareQuote, p.col+j)
	}
	s.text = append(s.text, field...)
	s.ends = append(s.ends, len(s.text))
	if i < 0 {
		return false, nil
	}
	p.line = p.line[i+len(s.comma):]
	p.col += i + len(s.comma)
	return true, nil
}

// quotedField parses a quoted field, reading more lines while the quotes
// are open, and reports whether another field follows.
func (s *csvScanner) quotedField(p *csvParse) (more bool, err error) {
	p.line = p.line[1:]
	p.col++
	for {
		i := bytes.IndexByte(p.line, '"')
		switch {
		case i >= 0:
			s.text = append(s.text, p.line[:i]...)
			p.line = p.line[i+1:]
			p.col += i + 1
			if done, more, err := s.afterQuote(p); done {
				return more, err
			}
		case len(p.line) > 0:
			s.text = append(s.text, p.line...)
			if p.errRead != nil {
				return false, nil
			}
			p.col += len(p.line)
			p.line, p.errRead = s.readLine()
			if len(p.line) > 0 {
				p.lineNo++
				p.col = 1
			}
			if p.errRead == io.EOF {
				p.errRead = nil
			}
		default: // the input ended inside the quotes
			if p.errRead == nil {
				return false, quoteError(p.start, p.lineNo, p.col)
			}
			s.ends = append(s.ends, len(s.text))
			return false, nil
		}
	}
}

// afterQuote handles what follows a quote inside a quoted field: another
// quote (an escaped one), a comma or the end of the line (the end of the
// field) or anything else (an error).
func (s *csvScanner) afterQuote(p *csvParse) (done, more bool, err error) {
	switch {
	case len(p.line) > 0 && p.line[0] == '"':
		s.text = append(s.text, '"')
		p.line = p.line[1:]
		p.col++
		return false, false, nil
	case bytes.HasPrefix(p.line, s.comma):
		p.line = p.line[len(s.comma):]
		p.col += len(s.comma)
		s.ends = append(s.ends, len(s.text))
		return true, true, nil
	case lengthNL(p.line) == len(p.line):
		s.ends = append(s.ends, len(s.text))
		return true, false, nil
	}
	return true, false, quoteError(p.start, s.line, p.col-1)
}

// quoteError is a quoted field that is never closed or is followed by something
// other than a separator. It is told at the line its record starts on, where the
// quote that opened it usually is, and at the line where the parse failed, which is
// the end of the file when the quote is never closed.
func quoteError(start, line int64, col int) error {
	return lineError(start, "", ErrMalformed, "%v in the record that starts on this line (at line %d, column %d)", csv.ErrQuote, line, col)
}

func malformed(line int64, cause error, col int) error {
	return lineError(line, "", ErrMalformed, "%v (column %d)", cause, col)
}

func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}
