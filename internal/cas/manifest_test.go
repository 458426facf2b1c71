package cas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

var (
	dA = digestOf("a")
	dB = digestOf("bb")
	dC = digestOf("ccc")
)

// TestManifestCanonical pins the encoding: changing it would change every version's digest.
func TestManifestCanonical(t *testing.T) {
	m := cas.Manifest{Entries: []cas.Entry{
		{Path: "ünï/☃.txt", Size: 3, Digest: dC},
		{Path: "x<y>&z.txt", Size: 3, Digest: dC},
		{Path: "model/weights.bin", Size: 1, Digest: dA},
	}}
	want := `{"entries":[` +
		`{"digest":"` + dA + `","path":"model/weights.bin","size":1},` +
		`{"digest":"` + dC + `","path":"x<y>&z.txt","size":3},` +
		`{"digest":"` + dC + `","path":"ünï/☃.txt","size":3}` +
		`],"schema":"mlship.manifest.v1"}`
	// The same bytes as Python's json.dumps(m, sort_keys=True, separators=(",", ":"),
	// ensure_ascii=False): the digest is reproducible without mlship.`
	sum := sha256.Sum256([]byte(want))
	if got, wantDigest := m.Digest(), "sha256:"+hex.EncodeToString(sum[:]); got != wantDigest {
		t.Errorf("Digest = %s, want %s, the digest of\n%s", got, wantDigest, want)
	}

	f := newFixture(t)
	for _, body := range []string{"a", "ccc"} {
		if _, _, err := f.cas.PutFile(t.Context(), stringReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := f.cas.PutManifest(t.Context(), m)
	if err != nil || d != m.Digest() {
		t.Fatalf("PutManifest = %s, %v; want %s", d, err, m.Digest())
	}
	if stored, _ := os.ReadFile(f.hostPath(manifestKey(d))); string(stored) != want {
		t.Errorf("stored manifest =\n%s\nwant\n%s", stored, want)
	}
}

func TestManifestDigestIgnoresOrder(t *testing.T) {
	a := cas.Entry{Path: "a", Size: 1, Digest: dA}
	b := cas.Entry{Path: "a-b", Size: 2, Digest: dB}
	c := cas.Entry{Path: "a/c", Size: 3, Digest: dC}
	want := cas.Manifest{Entries: []cas.Entry{a, b, c}}.Digest()
	tests := []struct {
		name    string
		entries []cas.Entry
	}{
		{"sorted", []cas.Entry{a, b, c}},
		{"reversed", []cas.Entry{c, b, a}},
		{"directory first", []cas.Entry{c, a, b}},
		{"middle first", []cas.Entry{b, a, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (cas.Manifest{Entries: tt.entries}).Digest(); got != want {
				t.Errorf("Digest = %s, want %s", got, want)
			}
		})
	}
	if other := (cas.Manifest{Entries: []cas.Entry{a, b}}).Digest(); other == want {
		t.Error("dropping an entry kept the digest")
	}
}

func TestManifestReadBack(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{"MLmodel": "flavors: {}", "model/weights.bin": "0123456789", "a-b": "x"}
	m, d, err := f.cas.ImportDir(t.Context(), f.blob, "", nil)
	if err == nil {
		t.Fatalf("ImportDir of an empty store = %v, %s; want an error", m, d)
	}
	wantErr(t, "ImportDir of nothing", err, cas.ErrNotFound, fault.NotFound)

	m, d = f.importDir(t, "runs/1/artifacts/model", files)
	got, err := f.cas.Manifest(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != d || len(got.Entries) != len(files) || got.Size() != 22 {
		t.Fatalf("Manifest(%s) = %+v", d, got)
	}
	for i, p := range sortedKeys(files) {
		e := got.Entries[i]
		if e.Path != p || e.Digest != digestOf(files[p]) || e.Size != int64(len(files[p])) || e != m.Entries[i] {
			t.Errorf("entry %d = %+v, want %s of %q", i, e, p, files[p])
		}
	}
}

func TestPutManifestRejectsInvalid(t *testing.T) {
	tests := []struct {
		name    string
		entries []cas.Entry
	}{
		{"duplicate path", []cas.Entry{{Path: "a", Digest: dA, Size: 1}, {Path: "a", Digest: dB, Size: 2}}},
		{"file is a directory", []cas.Entry{{Path: "a", Digest: dA, Size: 1}, {Path: "a/b", Digest: dB, Size: 2}}},
		{"dot-dot", []cas.Entry{{Path: "../a", Digest: dA, Size: 1}}},
		{"absolute", []cas.Entry{{Path: "/etc/passwd", Digest: dA, Size: 1}}},
		{"empty path", []cas.Entry{{Path: "", Digest: dA, Size: 1}}},
		{"backslash", []cas.Entry{{Path: `a\b`, Digest: dA, Size: 1}}},
		{"reserved name", []cas.Entry{{Path: ".mlship-tmp-x", Digest: dA, Size: 1}}},
		{"bad digest", []cas.Entry{{Path: "a", Digest: "sha256:xyz", Size: 1}}},
		{"uppercase digest", []cas.Entry{{Path: "a", Digest: "sha256:" + upperHex(dA), Size: 1}}},
		{"negative size", []cas.Entry{{Path: "a", Digest: dA, Size: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			spy := &spyStore{Store: f.blob}
			_, err := cas.New(spy, casPrefix).PutManifest(t.Context(), cas.Manifest{Entries: tt.entries})
			wantErr(t, "PutManifest", err, cas.ErrInvalidManifest, fault.Invalid)
			if n := spy.calls.Load(); n != 0 {
				t.Errorf("%d blob calls before the manifest was refused", n)
			}
		})
	}
}

func TestPutManifestNeedsItsFiles(t *testing.T) {
	f := newFixture(t)
	d, size, err := f.cas.PutFile(t.Context(), stringReader("stored"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		entry cas.Entry
		want  error
	}{
		{"missing object", cas.Entry{Path: "gone.bin", Digest: dB, Size: 2}, cas.ErrNotFound},
		{"wrong size", cas.Entry{Path: "short.bin", Digest: d, Size: size + 1}, cas.ErrInvalidManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := cas.Manifest{Entries: []cas.Entry{{Path: "ok", Digest: d, Size: size}, tt.entry}}
			_, err := f.cas.PutManifest(t.Context(), m)
			if !errors.Is(err, tt.want) || !strings.Contains(fault.Message(err), tt.entry.Path) {
				t.Errorf("PutManifest = %v (message %q), want %v naming %q", err, fault.Message(err), tt.want, tt.entry.Path)
			}
			if _, err := f.cas.Manifest(t.Context(), m.Digest()); !errors.Is(err, cas.ErrNotFound) {
				t.Errorf("the refused manifest was stored: %v", err)
			}
		})
	}
}

func upperHex(digest string) string { return strings.ToUpper(hexOf(digest)) }

// TestManifestReadRejects checks manifests stored under their own hash by something else.
func TestManifestReadRejects(t *testing.T) {
	entry := func(path, digest string, size int) string {
		return fmt.Sprintf(`{"digest":%q,"path":%q,"size":%d}`, digest, path, size)
	}
	canonical := func(entries ...string) string {
		return `{"entries":[` + strings.Join(entries, ",") + `],"schema":"mlship.manifest.v1"}`
	}
	tests := []struct {
		name string
		body string
	}{
		{"whitespace", `{"entries": [], "schema": "mlship.manifest.v1"}`},
		{"keys out of order", `{"schema":"mlship.manifest.v1","entries":[]}`},
		{"unknown schema", `{"entries":[],"schema":"mlship.manifest.v2"}`},
		{"unknown field", `{"entries":[],"extra":1,"schema":"mlship.manifest.v1"}`},
		{"unsorted", canonical(entry("b", dB, 2), entry("a", dA, 1))},
		{"duplicate", canonical(entry("a", dA, 1), entry("a", dA, 1))},
		{"escaping path", canonical(entry("../a", dA, 1))},
		{"bad digest", canonical(entry("a", "sha256:00", 1))},
		{"not JSON", "entries: []"},
		{"trailing data", canonical() + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			d := digestOf(tt.body)
			if _, err := f.blob.Put(t.Context(), manifestKey(d), strings.NewReader(tt.body)); err != nil {
				t.Fatal(err)
			}
			_, err := f.cas.Manifest(t.Context(), d)
			wantErr(t, "Manifest", err, cas.ErrCorrupt, fault.Internal)
		})
	}
	t.Run("canonical", func(t *testing.T) {
		f := newFixture(t)
		body := canonical()
		f.blob.Put(t.Context(), manifestKey(digestOf(body)), strings.NewReader(body))
		if m, err := f.cas.Manifest(t.Context(), digestOf(body)); err != nil || len(m.Entries) != 0 {
			t.Errorf("Manifest = %+v, %v", m, err)
		}
	})
}
