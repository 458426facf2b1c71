package cas

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// Entry is one file of a manifest.
type Entry struct {
	Path   string // slash-separated and relative; a valid blob key (blob.CheckKey)
	Size   int64
	Digest string // "sha256:<hex>" of the file's bytes
}

// Manifest is a set of files: a model version or a dataset. Its identity is Digest.
type Manifest struct {
	Entries []Entry // sorted by Path in byte order in every Manifest this package returns
}

// Size returns the total size of the manifest's files.
func (m Manifest) Size() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// Digest returns "sha256:<hex>" of the manifest's canonical encoding. It does not depend on
// the order of Entries.
func (m Manifest) Digest() string {
	return sum(sha256.Sum256(m.encode())).String()
}

// manifestSchema names the encoding; a different encoding would get a new name.
const manifestSchema = "mlship.manifest.v1"

// maxManifestSize bounds a manifest read into memory: about 400,000 files.
const maxManifestSize = 64 << 20

// wireManifest and wireEntry are the canonical encoding: compact JSON, entries sorted by
// path, object keys in sorted order and no HTML escaping, so that RFC 8785 (JCS) and Python's
// json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False) give the same
// bytes, and therefore the same digest, for any path without U+2028 or U+2029.
type wireManifest struct {
	Entries []wireEntry `json:"entries"`
	Schema  string      `json:"schema"`
}

type wireEntry struct {
	Digest string `json:"digest"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
}

// encode returns the canonical encoding of m.
func (m Manifest) encode() []byte {
	w := wireManifest{Entries: make([]wireEntry, len(m.Entries)), Schema: manifestSchema}
	for i, e := range sortedEntries(m.Entries) {
		w.Entries[i] = wireEntry{Digest: e.Digest, Path: e.Path, Size: e.Size}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		panic("cas: encoding a manifest: " + err.Error()) // strings and integers always encode
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// sortedEntries returns a copy of entries sorted by path, in byte order.
func sortedEntries(entries []Entry) []Entry {
	return slices.SortedStableFunc(slices.Values(entries), byPath)
}

func byPath(a, b Entry) int { return strings.Compare(a.Path, b.Path) }

// decodeManifest parses a canonical encoding and checks the result.
func decodeManifest(data []byte) (Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireManifest
	if err := dec.Decode(&w); err != nil {
		return Manifest{}, err
	}
	if w.Schema != manifestSchema {
		return Manifest{}, fmt.Errorf("unknown manifest schema %q", w.Schema)
	}
	m := Manifest{Entries: make([]Entry, len(w.Entries))}
	for i, e := range w.Entries {
		m.Entries[i] = Entry{Path: e.Path, Size: e.Size, Digest: e.Digest}
	}
	if err := m.validate(); err != nil {
		return Manifest{}, err
	}
	// Only the canonical bytes hash to m.Digest(), the name the manifest is stored under.
	if !bytes.Equal(m.encode(), data) {
		return Manifest{}, fmt.Errorf("not in canonical form")
	}
	return m, nil
}

// validate checks every entry and that the paths could be files of one directory tree:
// no path twice, and no path that is also the directory of another.
func (m Manifest) validate() error {
	files := make(map[string]bool, len(m.Entries))
	for _, e := range m.Entries {
		if err := e.validate(); err != nil {
			return err
		}
		if files[e.Path] {
			return errorf(ErrInvalidManifest, "Invalid manifest: path %q appears twice", e.Path)
		}
		files[e.Path] = true
	}
	for _, e := range m.Entries {
		for dir := range parents(e.Path) {
			if files[dir] {
				return errorf(ErrInvalidManifest, "Invalid manifest: %q is a file, so it cannot hold %q", dir, e.Path)
			}
		}
	}
	return nil
}

func (e Entry) validate() error {
	if err := blob.CheckKey(e.Path); err != nil {
		return fault.Wrap(fault.Invalid, ErrInvalidManifest, "Invalid manifest: %s", fault.Message(err))
	}
	if err := CheckDigest(e.Digest); err != nil {
		return fault.Wrap(fault.Invalid, ErrInvalidManifest, "Invalid manifest entry %q: %s", e.Path, fault.Message(err))
	}
	if e.Size < 0 {
		return errorf(ErrInvalidManifest, "Invalid manifest entry %q: negative size", e.Path)
	}
	return nil
}

// parents yields "a" and "a/b" for "a/b/c".
func parents(p string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := range len(p) {
			if p[i] == '/' && !yield(p[:i]) {
				return
			}
		}
	}
}
