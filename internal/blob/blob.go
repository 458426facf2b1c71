// Package blob owns the bytes: the object-storage interface that artifacts, model versions
// and datasets are written through, the key grammar that guards it, and the drivers behind it.
//
// A Store is shaped like S3 (and lakeFS's block.Adapter): flat, slash-separated keys, one-level
// listing with "directories" as common prefixes, and multipart uploads that only become an
// object on Complete. Every write is atomic and durable before it returns, so the metadata row
// that names a blob can always be committed after the blob (ARCHITECTURE.md, "Storage rules").
//
// Keys are checked lexically by CheckKey before any I/O; paths that arrive from clients go
// through CleanUserPath first. Drivers are chosen by URI scheme with Open; this package
// registers the local filesystem driver under "file".
package blob

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// Info describes an object or, when IsDir is set, a "directory": a common prefix of keys.
type Info struct {
	Key     string // full key, without a trailing slash, even for directories
	Size    int64
	IsDir   bool
	ModTime time.Time
}

// Part names one uploaded part of a multipart upload, as CompleteMultipart expects it.
type Part struct {
	Number int
	ETag   string
}

// Object is an open object. It seeks, so http.ServeContent can answer range requests.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// Store is an object store. Every driver passes the conformance suite in package blobtest.
type Store interface {
	// Put stores r under key atomically and durably: readers see the old object or the whole
	// new one, and once Put returns nil the bytes survive kill -9 and power loss.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Open opens the object at key for reading.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes the object at key.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the objects and directories directly under dir ("" is the root), sorted by
	// Key. A missing dir gives an empty list.
	List(ctx context.Context, dir string) ([]Info, error)
	// Walk calls fn for every object under the directory prefix ("" is everything),
	// recursively, in key order. It stops at the first error fn returns and returns it.
	Walk(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes the object at key. A missing key, or a key that is only a directory,
	// is not an error.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object under the directory prefix. It refuses "".
	DeletePrefix(ctx context.Context, prefix string) error

	// CreateMultipart starts a multipart upload of key and returns its id.
	CreateMultipart(ctx context.Context, key string) (uploadID string, err error)
	// UploadPart stores part number (1 to MaxPartNumber) of an upload and returns its ETag.
	// Uploading the same number again replaces the part.
	UploadPart(ctx context.Context, key, uploadID string, number int, r io.Reader) (etag string, err error)
	// CompleteMultipart concatenates parts in number order, checking each ETag, and stores
	// the result under key as atomically and durably as Put. It returns the object's size.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (int64, error)
	// AbortMultipart discards an upload and its parts.
	AbortMultipart(ctx context.Context, key, uploadID string) error

	// Close releases the store's resources.
	Close() error
}

// Mover is a Store that can give an object another key without copying its bytes.
type Mover interface {
	// Move renames the object at from to the key to, replacing any object there,
	// atomically and durably: once Move returns nil, to holds the bytes across kill -9
	// and power loss, and from is gone.
	Move(ctx context.Context, from, to string) error
}

// MaxPartNumber is the highest part number of a multipart upload, as in S3.
const MaxPartNumber = 10000

// Sentinel errors. Each carries a fault.Kind, so the HTTP layer can map it without knowing
// this package; errors returned by a Store wrap them with a message that names the key.
var (
	ErrNotFound          = fmt.Errorf("blob: object %w", fault.NotFound)
	ErrUploadNotFound    = fmt.Errorf("blob: multipart upload %w", fault.NotFound)
	ErrInvalidPath       = fmt.Errorf("blob: path is %w", fault.Invalid)
	ErrIsDir             = fmt.Errorf("blob: key is a directory (%w)", fault.Invalid)
	ErrInvalidPart       = fmt.Errorf("blob: multipart part is %w", fault.Invalid)
	ErrPathConflict      = fmt.Errorf("blob: key collides with an object or directory (%w)", fault.Conflict)
	ErrUnsupportedScheme = fmt.Errorf("blob: storage URI scheme is %w", fault.Invalid)
	ErrInvalidURI        = fmt.Errorf("blob: storage URI is %w", fault.Invalid)
)

// errorf returns an error of sentinel's kind with a client-facing message; errors.Is matches
// it to sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return fault.Wrap(fault.KindOf(sentinel), sentinel, format, args...)
}
