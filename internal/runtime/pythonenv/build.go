package pythonenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
)

// Builder builds and reuses the environments of models with uv.
type Builder struct {
	// UV is the uv program.
	UV string
	// Dir holds the environments, one directory per key.
	Dir string
	// CacheDir is uv's cache; empty means $UV_CACHE_DIR, else Dir/uv-cache.
	CacheDir string
	// Python is the interpreter an environment is made from when uv finds none of
	// the version the model was logged with; empty means python3.
	Python string
	// Environ is the environment uv runs with (the server's own: the operator's
	// index settings, proxies and certificates); nil means os.Environ().
	Environ []string
	// Timeout bounds one build; default 20 minutes.
	Timeout time.Duration
	Logger  *slog.Logger

	// interpreters caches what interpreter serves each requested version.
	interpreters sync.Map // string -> interpreter
}

// Env is a model's environment, ready to run its worker.
type Env struct {
	// Key is the hash that names it: the interpreter and the requirements.
	Key string
	// Dir is its directory and Python its interpreter (Dir/bin/python).
	Dir, Python string
	// Version is the Python version it runs.
	Version string
	// Reused is true when an environment built before served again.
	Reused bool
	// Took is how long preparing it took (building, or checking it was there).
	Took time.Duration
	// Warning says how it differs from what the model was logged with.
	Warning string
}

// String describes the environment for a deployment's status.
func (e Env) String() string {
	how := "built"
	if e.Reused {
		how = "reused"
	}
	s := fmt.Sprintf("uv environment %s (%s in %s, Python %s)", e.Key[:12], how, e.Took.Round(10*time.Millisecond), e.Version)
	if e.Warning != "" {
		s += "; warning: " + e.Warning
	}
	return s
}

// manifest is written in every environment: what it was built from.
type manifest struct {
	Python      string    `json:"python"`
	Version     string    `json:"python_version"`
	Requested   string    `json:"requested_python,omitempty"`
	Packages    []string  `json:"packages"`
	Warning     string    `json:"warning,omitempty"`
	BuiltAt     time.Time `json:"built_at"`
	BuildTimeMS int64     `json:"build_time_ms"`
}

const (
	manifestName     = "mlship-env.json"
	requirementsName = "mlship-requirements.txt"
	defaultTimeout   = 20 * time.Minute
	// errorTail is how much of uv's output a failed build reports.
	errorTail = 2000
)

// Prepare returns the environment of the model in modelDir, building it unless one
// with the same key exists. Builds of one key are serialized across processes by a
// file lock; a build happens in a temporary directory renamed into place when done, so
// an environment that exists is complete.
func (b *Builder) Prepare(ctx context.Context, modelDir string) (Env, error) {
	start := time.Now()
	req, err := Read(modelDir)
	if err != nil {
		return Env{}, err
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return Env{}, fmt.Errorf("create the environments directory: %w", err)
	}
	base, err := b.interpreter(ctx, req.Python)
	if err != nil {
		return Env{}, err
	}
	key := Key(base.version+"\x00"+base.path, req.Packages)
	env := Env{Key: key, Dir: filepath.Join(b.Dir, key[:32]), Version: base.version, Warning: base.warning}
	env.Python = filepath.Join(env.Dir, "bin", "python")
	if exists(env.Dir) {
		env.Reused, env.Took = true, time.Since(start)
		return env, nil
	}
	// Building, or waiting for the load that builds the same environment.
	runtime.Progress(ctx, "building environment")
	unlock, err := lock(ctx, filepath.Join(b.Dir, key[:32]+".lock"))
	if err != nil {
		return env, err
	}
	defer unlock()
	if exists(env.Dir) { // built by the load that held the lock
		env.Reused, env.Took = true, time.Since(start)
		return env, nil
	}
	if err := b.build(ctx, env, base, req); err != nil {
		return env, err
	}
	env.Took = time.Since(start)
	return env, nil
}

func exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, manifestName))
	return err == nil
}

// build makes the environment in a temporary directory beside its final one, then
// renames it into place.
func (b *Builder) build(ctx context.Context, env Env, base interpreter, req Requirements) error {
	ctx, cancel := context.WithTimeout(ctx, cmpDuration(b.Timeout, defaultTimeout))
	defer cancel()
	b.removeStale(filepath.Base(env.Dir))
	tmp := filepath.Join(b.Dir, ".build-"+filepath.Base(env.Dir)+"-"+randomSuffix())
	defer os.RemoveAll(tmp)
	start := time.Now()
	logger := b.logger().With("environment", env.Key[:12])
	logger.Info("building a python environment", "python", base.version, "packages", len(req.Packages))
	if _, err := b.uv(ctx, "venv", "--relocatable", "--no-project", "--no-config", "--quiet", "--python", base.path, tmp); err != nil {
		return err
	}
	reqFile := filepath.Join(tmp, requirementsName)
	if err := os.WriteFile(reqFile, []byte(strings.Join(req.Packages, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	// Compiled now, since the workers cannot write bytecode into the read-only
	// environment and would compile every module at each start.
	args := append([]string{"pip", "install", "--no-config", "--compile-bytecode", "--python", filepath.Join(tmp, "bin", "python"), "-r", reqFile}, b.indexArgs()...)
	if _, err := b.uv(ctx, args...); err != nil {
		return err
	}
	m := manifest{Python: base.path, Version: base.version, Requested: req.Python, Packages: req.Packages,
		Warning: base.warning, BuiltAt: time.Now().UTC(), BuildTimeMS: time.Since(start).Milliseconds()}
	if err := writeManifest(filepath.Join(tmp, manifestName), m); err != nil {
		return err
	}
	if err := os.Rename(tmp, env.Dir); err != nil {
		return fmt.Errorf("install the environment: %w", err)
	}
	syncDir(b.Dir)
	logger.Info("python environment built", "took", time.Since(start).Round(time.Millisecond), "dir", env.Dir)
	return nil
}

// removeStale removes what builds of name that died left behind; the caller holds
// name's lock, so no build of it runs.
func (b *Builder) removeStale(name string) {
	old, _ := filepath.Glob(filepath.Join(b.Dir, ".build-"+name+"-*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
}

func writeManifest(path string, m manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func cmpDuration(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

func (b *Builder) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// uv runs uv with the operator's environment, the cache under the data directory and
// Python downloads turned off, and returns its standard output. A failure carries the
// tail of what uv said.
func (b *Builder) uv(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.UV, args...)
	cmd.Dir = b.Dir
	cmd.Env = b.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if ctx.Err() != nil {
		return "", fault.Wrap(fault.DeadlineExceeded, ctx.Err(), "building the model's Python environment was stopped (%v)", ctx.Err())
	}
	msg := tail(uvMessage(stderr.String()+"\n"+stdout.String()), errorTail)
	kind := fault.Unavailable
	if strings.Contains(msg, "No solution found") || strings.Contains(msg, "not found in the package registry") {
		kind = fault.Invalid // the model asks for what does not exist
	}
	b.logger().Debug("uv failed", "args", args, "err", err)
	return "", fault.New(kind, "the model's Python environment cannot be built: uv %s %s failed: %s", args[0], args[1], msg)
}

// uvMessage is what uv said, without the lines that only name the temporary
// environment.
func uvMessage(out string) string {
	var keep []string
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "Using Python ") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// environ is uv's environment: the operator's, with the cache, no downloads of
// interpreters and no progress bars; and wheels only unless the operator set
// UV_NO_BUILD, since building a source distribution runs its code outside the sandbox,
// and a model, which is untrusted, chooses the packages.
func (b *Builder) environ() []string {
	env := b.Environ
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != "UV_PYTHON_DOWNLOADS" && k != "VIRTUAL_ENV" {
			out = append(out, kv)
		}
	}
	if cache := b.cacheDir(); cache != "" {
		out = append(out, "UV_CACHE_DIR="+cache)
	}
	if b.getenv("UV_NO_BUILD") == "" {
		out = append(out, "UV_NO_BUILD=1")
	}
	return append(out, "UV_PYTHON_DOWNLOADS=never", "UV_NO_PROGRESS=1", "NO_COLOR=1")
}

func (b *Builder) cacheDir() string {
	if b.CacheDir != "" {
		return b.CacheDir
	}
	if b.getenv("UV_CACHE_DIR") != "" {
		return ""
	}
	return filepath.Join(b.Dir, "uv-cache")
}

func (b *Builder) getenv(key string) string {
	if b.Environ == nil {
		return os.Getenv(key)
	}
	for _, kv := range b.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// indexArgs passes pip's index settings of the operator to uv, which reads only its
// own (UV_INDEX_URL, UV_DEFAULT_INDEX, UV_INDEX) unless told.
func (b *Builder) indexArgs() []string {
	if b.getenv("UV_INDEX_URL") != "" || b.getenv("UV_DEFAULT_INDEX") != "" || b.getenv("UV_INDEX") != "" {
		return nil
	}
	var args []string
	if u := b.getenv("PIP_INDEX_URL"); u != "" {
		args = append(args, "--index-url", u)
	}
	for u := range strings.FieldsSeq(b.getenv("PIP_EXTRA_INDEX_URL")) {
		args = append(args, "--extra-index-url", u)
	}
	return args
}

// interpreter is the Python an environment is made from.
type interpreter struct {
	path, version string
	// warning says how it differs from the version the model was logged with.
	warning string
}

// interpreter finds the Python of version want with uv (the exact version, else the
// same minor version), never downloading one; else the builder's Python, with a
// warning when its minor version differs from want.
func (b *Builder) interpreter(ctx context.Context, want string) (interpreter, error) {
	if in, ok := b.interpreters.Load(want); ok {
		return in.(interpreter), nil
	}
	in, err := b.findInterpreter(ctx, want)
	if err == nil {
		b.interpreters.Store(want, in)
	}
	return in, err
}

func (b *Builder) findInterpreter(ctx context.Context, want string) (interpreter, error) {
	for _, v := range candidates(want) {
		out, err := b.uv(ctx, "python", "find", "--no-project", "--no-config", v)
		if err != nil {
			b.logger().Debug("uv finds no python", "version", v, "err", err)
			continue
		}
		if path := strings.TrimSpace(out); path != "" {
			if version, err := pythonVersionOf(ctx, path); err == nil {
				return interpreter{path: path, version: version}, nil
			}
		}
	}
	name := b.Python
	if name == "" {
		name = "python3"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return interpreter{}, fault.Wrap(fault.Unavailable, err, "no Python %s here (uv finds none and downloads none), and the fallback interpreter %q is not found: install Python %s or restart the server with --python", cmpOr(want, "3"), name, cmpOr(want, "3"))
	}
	version, err := pythonVersionOf(ctx, path)
	if err != nil {
		return interpreter{}, fault.Wrap(fault.Unavailable, err, "the fallback interpreter %s: %v", path, err)
	}
	in := interpreter{path: path, version: version}
	if want != "" && minor(want) != minor(version) {
		in.warning = fmt.Sprintf("the model was logged with Python %s, which this server lacks (uv finds no Python %s and downloads none); its environment runs Python %s", want, minor(want), version)
	}
	return in, nil
}

// candidates are the versions to look for: the exact one, then its minor version.
func candidates(want string) []string {
	switch {
	case want == "":
		return nil
	case minor(want) == want:
		return []string{want}
	}
	return []string{want, minor(want)}
}

// minor is "3.11" of "3.11.7".
func minor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func pythonVersionOf(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ErrLocked is returned when ctx ends while another build of the same environment
// holds its lock.
var ErrLocked = errors.New("the environment is being built by another load")
