package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reader yields a dataset's rows in batches. Readers stream: they hold one
// batch and a bounded read buffer, never the whole input.
type Reader interface {
	// Columns returns the names of the columns seen so far, in order. CSV and
	// Parquet readers know every column once opened; a JSON lines reader
	// learns them as rows name them (earlier rows hold nulls there).
	Columns() []string
	// Read fills b with the next rows, reusing its memory. It returns io.EOF,
	// and no rows, at the end of the input.
	Read(ctx context.Context, b *Batch) error
	// BytesRead returns how many input bytes have been consumed, for
	// progress reports.
	BytesRead() int64
	// Close releases the input when the reader opened it.
	Close() error
}

// Defaults for ReadOptions.
const (
	DefaultMaxFieldBytes  = 1 << 20
	DefaultMaxRecordBytes = 64 << 20
	DefaultMaxColumns     = 10_000
	DefaultBatchCells     = 1 << 20
	maxBatchRows          = 65536
	maxBatchTextBytes     = 64 << 20
)

// ReadOptions bound what a reader accepts; the zero value gives the defaults.
type ReadOptions struct {
	BatchRows      int  // rows per batch; by default about DefaultBatchCells cells, at most 65,536 rows
	MaxFieldBytes  int  // longest field accepted; DefaultMaxFieldBytes (1 MiB) when 0
	MaxRecordBytes int  // longest record (CSV) or line (JSON lines); DefaultMaxRecordBytes (64 MiB) when 0
	MaxColumns     int  // DefaultMaxColumns when 0
	Comma          rune // CSV field delimiter; ',' when 0
}

func (o *ReadOptions) withDefaults() ReadOptions {
	var d ReadOptions
	if o != nil {
		d = *o
	}
	if d.MaxFieldBytes <= 0 {
		d.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if d.MaxRecordBytes <= 0 {
		d.MaxRecordBytes = DefaultMaxRecordBytes
	}
	d.MaxRecordBytes = max(d.MaxRecordBytes, d.MaxFieldBytes)
	if d.MaxColumns <= 0 {
		d.MaxColumns = DefaultMaxColumns
	}
	if d.Comma == 0 {
		d.Comma = ','
	}
	return d
}

// batchRows is the number of rows per batch for a table of n columns.
func (o ReadOptions) batchRows(columns int) int {
	if o.BatchRows > 0 {
		return o.BatchRows
	}
	return min(max(DefaultBatchCells/max(columns, 1), 256), maxBatchRows)
}

// Open returns a reader of r in the given format. Parquet needs random
// access: r must also be an io.ReaderAt whose size is known (an *os.File, a
// *bytes.Reader, an *io.SectionReader). The reader does not close r.
func Open(r io.Reader, format Format, opts *ReadOptions) (Reader, error) {
	o := opts.withDefaults()
	switch format {
	case FormatCSV:
		return newCSVReader(r, o)
	case FormatJSONLines:
		return newJSONLinesReader(r, o), nil
	case FormatParquet:
		ra, size, err := sizedReaderAt(r)
		if err != nil {
			return nil, err
		}
		return newParquetReader(ra, size, o)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownFormat, format)
}

// OpenFile opens the named file; an empty format is detected from the name.
// Closing the reader closes the file.
func OpenFile(name string, format Format, opts *ReadOptions) (Reader, error) {
	if format == "" {
		f, err := DetectFormat(name)
		if err != nil {
			return nil, err
		}
		format = f
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	r, err := Open(f, format, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileReader{Reader: r, file: f}, nil
}

type fileReader struct {
	Reader
	file *os.File
}

func (r *fileReader) Close() error {
	return errors.Join(r.Reader.Close(), r.file.Close())
}

func sizedReaderAt(r io.Reader) (io.ReaderAt, int64, error) {
	ra, ok := r.(io.ReaderAt)
	if !ok {
		return nil, 0, ErrNotSeekable
	}
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return ra, v.Size(), nil
	case interface{ Stat() (os.FileInfo, error) }:
		fi, err := v.Stat()
		if err != nil {
			return nil, 0, err
		}
		return ra, fi.Size(), nil
	}
	return nil, 0, ErrNotSeekable
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
