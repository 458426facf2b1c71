// Package datasets keeps versions of the datasets models learn from: each version is a
// file stored by content in the content store, registered under a name with its
// schema and a statistical profile computed while it is stored. A version's digest
// identifies its bytes, so MLflow's log_input can carry it and a model version's
// lineage leads back to the exact data.
package datasets

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Version is one registered version of a dataset.
type Version struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// Digest is the version's identity: the content manifest of its file.
	Digest string `json:"digest"`
	// MLflowDigest is the digest's first 32 hex digits (128 bits), which fits MLflow's
	// 36-character limit on dataset digests: log it with mlflow.log_input, and
	// lineage and drift monitoring find this version.
	MLflowDigest string         `json:"mlflow_digest"`
	File         string         `json:"file"`
	Format       dataset.Format `json:"format"`
	Size         int64          `json:"size"`
	Rows         int64          `json:"rows"`
	Schema       dataset.Schema `json:"schema"`
	Description  string         `json:"description,omitempty"`
	CreatedAt    int64          `json:"created_at"`

	profileManifest string
}

// Service registers and finds dataset versions.
type Service struct {
	db      *store.DB
	content *cas.Store
	logger  *slog.Logger
	// profiles keeps recently made or read profiles by their manifest digest: they
	// never change, and decoding a large one costs more than comparing two.
	profiles *lru.Cache[string, *dataset.Profile]
}

// profileCacheSize is how many profiles stay decoded: a few MiB each for wide data with
// many distinct values, enough for a comparison and the references of monitored
// deployments.
const profileCacheSize = 16

// New returns the service over the metadata database and the content store.
func New(db *store.DB, content *cas.Store, logger *slog.Logger) *Service {
	profiles, _ := lru.New[string, *dataset.Profile](profileCacheSize) // errs only on a size <= 0
	return &Service{db: db, content: content, logger: logger, profiles: profiles}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// CheckName checks a dataset name: a plain token, since it appears in paths.
func CheckName(name string) error {
	if !namePattern.MatchString(name) || strings.Contains(name, "..") {
		return fault.Invalidf("invalid dataset name %q: use letters, digits, '_', '.' and '-' (at most 128, starting with a letter or digit, no '..')", name)
	}
	return nil
}

// Register stores a file as a new version of the named dataset: its bytes go to the
// content store while the same stream is parsed and profiled. A file that cannot be
// read as its format is refused with the line at fault, and nothing is registered.
// Registering bytes the dataset already has returns that version (created false).
// A value whose type disagrees with the rest of its column (a word among numbers) is
// refused with its line too, unless allowMixed, which keeps such columns as text.
func (s *Service) Register(ctx context.Context, name, file string, format dataset.Format, allowMixed bool, body io.Reader) (*Version, bool, error) {
	if err := CheckName(name); err != nil {
		return nil, false, err
	}
	file = path.Base(strings.ReplaceAll(file, "\\", "/"))
	if file == "." || file == "/" || file == "" {
		return nil, false, fault.Invalidf("name the file being registered")
	}
	if format == "" {
		f, err := dataset.DetectFormat(file)
		if err != nil {
			return nil, false, fault.Invalidf("cannot tell the format of %q from its name: give one of csv, jsonl, parquet", file)
		}
		format = f
	}
	opts := &dataset.ProfileOptions{RejectMixed: !allowMixed}
	digest, size, prof, err := s.storeAndProfile(ctx, format, opts, body)
	if err != nil {
		return nil, false, err
	}
	// The manifest names the file by its format alone, so the digest is the bytes' and
	// format's: the same data under another file name is the same version.
	dataManifest, err := s.content.PutManifest(ctx, cas.Manifest{Entries: []cas.Entry{{Path: "data." + string(format), Size: size, Digest: digest}}})
	if err != nil {
		return nil, false, err
	}
	profileManifest, err := s.putProfile(ctx, prof)
	if err != nil {
		return nil, false, err
	}
	s.profiles.Add(profileManifest, prof)
	v := &Version{Name: name, Digest: dataManifest, MLflowDigest: MLflowDigestOf(dataManifest), File: file, Format: format, Size: size, Rows: prof.Rows,
		Schema: prof.Schema(), CreatedAt: time.Now().UnixMilli(), profileManifest: profileManifest}
	created, err := s.insert(ctx, v)
	return v, created, err
}

// Room between storing and profiling an upload: enough that neither waits on the other
// at every write, little next to the sketches.
const (
	pipeChunks    = 8
	pipeChunkSize = 1 << 20
)

// storeAndProfile streams body into the content store and, through a pipe, into the
// profiler: one pass over the bytes.
func (s *Service) storeAndProfile(ctx context.Context, format dataset.Format, opts *dataset.ProfileOptions, body io.Reader) (string, int64, *dataset.Profile, error) {
	if format == dataset.FormatParquet {
		return s.storeThenProfile(ctx, format, opts, body)
	}
	pr, pw := newChunkPipe(pipeChunks, pipeChunkSize)
	type profiled struct {
		p   *dataset.Profile
		err error
	}
	done := make(chan profiled, 1)
	go func() {
		p, err := profileStream(ctx, pr, format, opts)
		pr.CloseWithError(errProfileDone) // unblock the writer if the profiler stopped early
		done <- profiled{p, err}
	}()
	digest, size, err := s.content.PutFile(ctx, closeAtEOF{io.TeeReader(body, pw), pw})
	pw.CloseWithError(err)
	res := <-done
	if err != nil && !errors.Is(err, errProfileDone) { // the store failed, not the file
		return "", 0, nil, err
	}
	if res.err != nil {
		return "", 0, nil, res.err
	}
	return digest, size, res.p, err
}

var errProfileDone = errors.New("the profiler stopped reading")

// storeThenProfile stores the file first and profiles the stored copy: Parquet is read
// by random access (its footer first), so the upload, bounded by the request's size, is
// spooled into the content store, where it stays, and read there at offsets.
func (s *Service) storeThenProfile(ctx context.Context, format dataset.Format, opts *dataset.ProfileOptions, body io.Reader) (string, int64, *dataset.Profile, error) {
	digest, size, err := s.content.PutFile(ctx, body)
	if err != nil {
		return "", 0, nil, err
	}
	rc, err := s.content.OpenRandom(ctx, digest)
	if err != nil {
		return "", 0, nil, err
	}
	defer rc.Close()
	p, err := profileStream(ctx, io.NewSectionReader(rc, 0, rc.Size()), format, opts)
	return digest, size, p, err
}

func profileStream(ctx context.Context, r io.Reader, format dataset.Format, opts *dataset.ProfileOptions) (*dataset.Profile, error) {
	rd, err := dataset.Open(r, format, nil)
	if err != nil {
		return nil, inputFault(err)
	}
	defer rd.Close()
	p, err := dataset.ProfileReader(ctx, rd, opts, nil)
	if err != nil {
		return nil, inputFault(err)
	}
	if p.Rows == 0 {
		return nil, fault.Invalidf("the file has no rows: a dataset version needs data")
	}
	return p, nil
}

// inputFault makes a reader's complaint about the file the client's mistake.
func inputFault(err error) error {
	var ie *dataset.InputError
	if errors.Is(err, dataset.ErrMixedTypes) {
		return fault.Wrap(fault.Invalid, err, "the file cannot be registered: %v; to keep such a column as text, "+
			"register the file with allow_mixed=true (mlship data add --allow-mixed-types)", err)
	}
	if errors.As(err, &ie) || errors.Is(err, dataset.ErrUnknownFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fault.Wrap(fault.Invalid, err, "the file cannot be registered: %v", err)
	}
	if fault.KindOf(err) != fault.Internal {
		return err
	}
	return fault.Wrap(fault.Invalid, err, "the file cannot be registered: %v", err)
}

func (s *Service) putProfile(ctx context.Context, p *dataset.Profile) (string, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	digest, size, err := s.content.PutFile(ctx, strings.NewReader(string(data)))
	if err != nil {
		return "", err
	}
	return s.content.PutManifest(ctx, cas.Manifest{Entries: []cas.Entry{{Path: "profile.json", Size: size, Digest: digest}}})
}

// insert records v under the next version number, unless the dataset already has its
// bytes; then v becomes that version.
func (s *Service) insert(ctx context.Context, v *Version) (bool, error) {
	schema, err := json.Marshal(v.Schema)
	if err != nil {
		return false, err
	}
	created := false
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		// Versions are numbered one after the other, whichever server registers them.
		if err := tx.Lock(ctx, "dataset_versions/"+v.Name); err != nil {
			return err
		}
		var existing int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM dataset_versions WHERE name = ? AND digest = ?`, v.Name, v.Digest).Scan(&existing)
		if err == nil {
			v.Version = existing
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM dataset_versions WHERE name = ?`, v.Name).Scan(&v.Version); err != nil {
			return err
		}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO dataset_versions (name, version, digest, file, format, size, rows, schema,
			profile_manifest, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.Name, v.Version, v.Digest, v.File, string(v.Format), v.Size, v.Rows, string(schema), v.profileManifest, v.Description, v.CreatedAt)
		return err
	})
	if err != nil || created {
		return created, err
	}
	got, err := s.Get(ctx, v.Name, strconv.FormatInt(v.Version, 10))
	if err == nil {
		*v = *got
	}
	return false, err
}

const versionColumns = `name, version, digest, file, format, size, rows, schema, profile_manifest, description, created_at`

func scanVersion(sc interface{ Scan(...any) error }) (*Version, error) {
	var v Version
	var format, schema string
	if err := sc.Scan(&v.Name, &v.Version, &v.Digest, &v.File, &format, &v.Size, &v.Rows, &schema, &v.profileManifest, &v.Description, &v.CreatedAt); err != nil {
		return nil, err
	}
	v.Format = dataset.Format(format)
	v.MLflowDigest = MLflowDigestOf(v.Digest)
	if err := json.Unmarshal([]byte(schema), &v.Schema); err != nil {
		return nil, fmt.Errorf("dataset %s version %d: stored schema: %w", v.Name, v.Version, err)
	}
	return &v, nil
}

// Get returns a version: a number, or "latest".
func (s *Service) Get(ctx context.Context, name, version string) (*Version, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	q := `SELECT ` + versionColumns + ` FROM dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1`
	args := []any{name}
	if version != "" && version != "latest" {
		n, err := strconv.ParseInt(version, 10, 64)
		if err != nil || n < 1 {
			return nil, fault.Invalidf("invalid dataset version %q: use a version number or latest", version)
		}
		q = `SELECT ` + versionColumns + ` FROM dataset_versions WHERE name = ? AND version = ?`
		args = append(args, n)
	}
	v, err := scanVersion(s.db.Reader().QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFoundf("dataset %q has no version %s", name, cmp.Or(version, "latest"))
	}
	return v, err
}

// ByDigest returns the versions whose bytes have the given digest, newest first. The
// digest may be given whole ("sha256:...") or as the first 8 or more hex digits of its
// hash, as MLflow's own dataset digests are short.
func (s *Service) ByDigest(ctx context.Context, digest string) ([]*Version, error) {
	hexPart := strings.TrimPrefix(digest, "sha256:")
	if len(hexPart) < 8 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return []*Version{}, nil
	}
	return s.list(ctx, `SELECT `+versionColumns+` FROM dataset_versions WHERE digest = ? OR substr(digest, 1, ?) = ?
		ORDER BY created_at DESC`, digest, len("sha256:")+len(hexPart), "sha256:"+hexPart)
}

// MLflowDigestOf is the digest a dataset version is known by in MLflow: the first 32 hex
// digits of its content digest.
func MLflowDigestOf(d string) string {
	h := strings.TrimPrefix(d, "sha256:")
	return h[:min(32, len(h))]
}

// ParseRef finds the version NAME/VERSION (or NAME, the newest) names.
func (s *Service) ParseRef(ctx context.Context, ref string) (*Version, error) {
	name, version, _ := strings.Cut(ref, "/")
	return s.Get(ctx, name, version)
}

// Versions lists a dataset's versions, newest first.
func (s *Service) Versions(ctx context.Context, name string) ([]*Version, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return s.list(ctx, `SELECT `+versionColumns+` FROM dataset_versions WHERE name = ? ORDER BY version DESC`, name)
}

// Latest lists the newest version of every dataset, by name.
func (s *Service) Latest(ctx context.Context) ([]*Version, error) {
	return s.list(ctx, `SELECT `+versionColumns+` FROM dataset_versions v WHERE version =
		(SELECT MAX(version) FROM dataset_versions w WHERE w.name = v.name) ORDER BY name`)
}

func (s *Service) list(ctx context.Context, q string, args ...any) ([]*Version, error) {
	out := []*Version{}
	err := store.ScanEach(ctx, s.db.Reader(), q, args, func(rows *sql.Rows) error {
		v, err := scanVersion(rows)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	return out, err
}

// Profile returns a version's profile, from memory or the content store. It is shared
// with other callers: it must not be modified.
func (s *Service) Profile(ctx context.Context, v *Version) (*dataset.Profile, error) {
	if p, ok := s.profiles.Get(v.profileManifest); ok {
		return p, nil
	}
	p, err := s.readProfile(ctx, v)
	if err != nil {
		return nil, err
	}
	s.profiles.Add(v.profileManifest, p)
	return p, nil
}

func (s *Service) readProfile(ctx context.Context, v *Version) (*dataset.Profile, error) {
	m, err := s.content.Manifest(ctx, v.profileManifest)
	if err != nil {
		return nil, err
	}
	if len(m.Entries) != 1 {
		return nil, fmt.Errorf("dataset %s version %d: the profile manifest has %d files", v.Name, v.Version, len(m.Entries))
	}
	rc, err := s.content.Open(ctx, m.Entries[0].Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var p dataset.Profile
	if err := json.NewDecoder(rc).Decode(&p); err != nil {
		return nil, fmt.Errorf("dataset %s version %d: stored profile: %w", v.Name, v.Version, err)
	}
	return &p, nil
}

// Open streams a version's file from the content store, verified as it is read.
func (s *Service) Open(ctx context.Context, v *Version) (io.ReadCloser, error) {
	m, err := s.content.Manifest(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	return s.content.Open(ctx, m.Entries[0].Digest)
}

// LiveManifests returns the manifests dataset versions reference (their files and
// profiles): what content garbage collection must keep.
func (s *Service) LiveManifests(ctx context.Context) ([]string, error) {
	var out []string
	err := store.ScanEach(ctx, s.db.Reader(), `SELECT digest, profile_manifest FROM dataset_versions`, nil, func(rows *sql.Rows) error {
		var a, b string
		err := rows.Scan(&a, &b)
		out = append(out, a, b)
		return err
	})
	return out, err
}
