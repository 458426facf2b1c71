// Package cas owns content-addressed storage on top of a blob.Store: the bytes of model
// versions and datasets, stored once per distinct content and named by their sha256.
//
// A file is an object named "sha256:<hex>" of its bytes; a set of files (a model version) is
// a Manifest of paths, sizes and digests, itself stored under the digest of its canonical
// encoding, so one digest pins every byte of a version. Files shared by versions are stored
// once. Reads verify what they return, Verify re-hashes a whole manifest and names what is
// missing or corrupt, and GC removes what no live manifest reaches.
//
// Layout under the store's prefix (DVC's "<algo>/<xx>/<rest>" fan-out, sha256 instead of MD5):
//
//	objects/sha256/<aa>/<hex>   file contents; <aa> is the first byte of <hex>
//	manifests/sha256/<hex>      canonical JSON manifests
//	tmp/<random>                uploads whose digest is not known yet (PutFile on a stream)
//
// Every digest is checked lexically (CheckDigest) before it names a key.
package cas

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// Sentinel errors. Each carries a fault.Kind; errors returned by a Store wrap them with a
// message that names the digest or path.
var (
	ErrNotFound        = fmt.Errorf("cas: object %w", fault.NotFound)
	ErrCorrupt         = fmt.Errorf("cas: object is corrupt (%w)", fault.Internal)
	ErrInvalidDigest   = fmt.Errorf("cas: digest is %w", fault.Invalid)
	ErrInvalidManifest = fmt.Errorf("cas: manifest is %w", fault.Invalid)
	ErrSourceChanged   = fmt.Errorf("cas: source changed while it was read (%w)", fault.Conflict)
)

// Grace is how long a newly written object or manifest is safe from GC although nothing
// references it yet; GC documents the rule it is part of.
const Grace = time.Hour

// Store is a content-addressed store over a blob.Store. It is safe for concurrent use.
type Store struct {
	b      blob.Store
	prefix string // "" or ends with "/"
	now    func() time.Time
	locks  keyMutex
	gcMu   sync.Mutex // one GC at a time: a second would only redo the first's work
}

// New returns a Store that keeps its objects in b under the directory prefix ("" is the
// root of b). The prefix is a constant of the caller, so an invalid one panics.
func New(b blob.Store, prefix string) *Store {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if err := blob.CheckKey(prefix); err != nil {
			panic("cas: New: " + err.Error())
		}
		prefix += "/"
	}
	return &Store{b: b, prefix: prefix, now: time.Now}
}

const (
	digestAlgo = "sha256:"
	hexLen     = 64
)

// sum is a sha256 digest in binary form.
type sum [32]byte

func (s sum) String() string { return digestAlgo + hex.EncodeToString(s[:]) }

// CheckDigest reports whether d is a digest this package writes: "sha256:" and 64 lowercase
// hex digits. The error is fault.Invalid and matches ErrInvalidDigest.
func CheckDigest(d string) error {
	_, err := parseDigest(d)
	return err
}

func parseDigest(d string) (sum, error) {
	var s sum
	hx, ok := strings.CutPrefix(d, digestAlgo)
	if !ok || len(hx) != hexLen || strings.IndexFunc(hx, notLowerHex) >= 0 {
		return s, errorf(ErrInvalidDigest, "Invalid digest %q: want sha256:<64 lowercase hex digits>", truncate(d))
	}
	hex.Decode(s[:], []byte(hx)) // cannot fail: checked above
	return s, nil
}

func notLowerHex(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f')
}

// truncate keeps error messages short when a client sends a huge "digest".
func truncate(s string) string {
	const maxShown = 80
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + "..."
}

func (s *Store) objectKey(d sum) string {
	hx := hex.EncodeToString(d[:])
	return s.prefix + "objects/sha256/" + hx[:2] + "/" + hx
}

func (s *Store) manifestKey(d sum) string {
	return s.prefix + "manifests/sha256/" + hex.EncodeToString(d[:])
}

func (s *Store) tempKey() string {
	return s.prefix + "tmp/" + rand.Text()
}

func (s *Store) objectsDir() string   { return s.prefix + "objects/sha256" }
func (s *Store) manifestsDir() string { return s.prefix + "manifests/sha256" }
func (s *Store) tempDir() string      { return s.prefix + "tmp" }

// digestFromKey parses the digest that the last segment of an objects/ or manifests/ key
// names; ok is false for a key this package did not write.
func digestFromKey(key string) (sum, bool) {
	name := key[strings.LastIndexByte(key, '/')+1:]
	d, err := parseDigest(digestAlgo + name)
	return d, err == nil
}

// errorf returns an error of sentinel's kind with a client-facing message; errors.Is matches
// it to sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return fault.Wrap(fault.KindOf(sentinel), sentinel, format, args...)
}
