package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// Worker configures the processes that run model code (the python, r and declared
// runtimes' workers), in `mlship server` and `mlship serve` alike.
type Worker struct {
	// Sandbox is the mechanism that confines workers: auto (the strongest that works),
	// bubblewrap, landlock or none.
	Sandbox string
	// Unsandboxed lets workers run when no sandbox is in force; without it the worker
	// runtimes refuse to load models.
	Unsandboxed bool
	// User is the user workers run as when the server runs as root: a name, a UID or
	// UID:GID.
	User string
	// MemoryLimit, CPULimit, MaxProcesses and MaxFileSize are each worker's
	// RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC and RLIMIT_FSIZE.
	MemoryLimit  Bytes
	CPULimit     time.Duration
	MaxProcesses int
	MaxFileSize  Bytes
	// TmpSize caps a worker's private /tmp (bubblewrap's tmpfs).
	TmpSize Bytes
	// Env are the variables the operator passes to every worker: NAME=VALUE, or NAME
	// to copy the server's own value. Resolve turns each into NAME=VALUE.
	Env []string
}

// DefaultWorker returns the defaults: the strongest sandbox, the limits of
// sandbox.DefaultLimits, the user nobody, no variables.
func DefaultWorker() Worker {
	return Worker{
		Sandbox:      sandbox.Auto,
		User:         sandbox.DefaultUser,
		MemoryLimit:  sandbox.DefaultMemory,
		CPULimit:     sandbox.DefaultCPU,
		MaxProcesses: sandbox.DefaultProcesses,
		MaxFileSize:  sandbox.DefaultFileSize,
		TmpSize:      sandbox.DefaultTempSize,
	}
}

// AddFlags adds the worker flags to f, with w's values as defaults.
func (w *Worker) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&w.Sandbox, "worker-sandbox", w.Sandbox, "sandbox of the processes that run model code (python, r and declared runtimes): auto (the strongest that works here), bubblewrap, landlock or none")
	f.BoolVar(&w.Unsandboxed, "unsafe-unsandboxed-workers", w.Unsandboxed, "let workers run model code with no sandbox when none works (or --worker-sandbox none): only for models you trust as you trust this server")
	f.StringVar(&w.User, "worker-user", w.User, "user that workers run as when the server runs as root: a name, a UID or UID:GID")
	f.Var(&w.MemoryLimit, "worker-memory-limit", "address space of each worker process (RLIMIT_AS), e.g. 8GiB")
	f.DurationVar(&w.CPULimit, "worker-cpu-limit", w.CPULimit, "CPU time each worker process may use over its life (RLIMIT_CPU); a worker that reaches it is killed and replaced")
	f.IntVar(&w.MaxProcesses, "worker-max-processes", w.MaxProcesses, "processes and threads of the worker user (RLIMIT_NPROC); stops fork bombs")
	f.Var(&w.MaxFileSize, "worker-max-file-size", "largest file a worker may write (RLIMIT_FSIZE), e.g. 1GiB")
	f.Var(&w.TmpSize, "worker-tmp-size", "size of each worker's private /tmp under bubblewrap, e.g. 1GiB")
	f.StringArrayVar(&w.Env, "worker-env", w.Env, "variable passed to every worker, NAME=VALUE or NAME (the server's own value); repeat for more. Workers inherit nothing else of the server's environment")
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Resolve validates the settings and resolves Env to NAME=VALUE entries.
func (w *Worker) Resolve() error {
	switch w.Sandbox {
	case sandbox.Auto, sandbox.Bubblewrap, sandbox.Landlock, sandbox.None:
	default:
		return fmt.Errorf("--worker-sandbox must be auto, bubblewrap, landlock or none, got %q", w.Sandbox)
	}
	switch {
	case w.User == "":
		return fmt.Errorf("--worker-user must not be empty")
	case w.MemoryLimit < 64<<20:
		return fmt.Errorf("--worker-memory-limit must be at least 64MiB, got %s", w.MemoryLimit)
	case w.CPULimit < time.Second:
		return fmt.Errorf("--worker-cpu-limit must be at least 1s, got %s", w.CPULimit)
	case w.MaxProcesses < 16:
		return fmt.Errorf("--worker-max-processes must be at least 16, got %d", w.MaxProcesses)
	case w.MaxFileSize < 1<<20 || w.TmpSize < 1<<20:
		return fmt.Errorf("--worker-max-file-size and --worker-tmp-size must be at least 1MiB, got %s and %s", w.MaxFileSize, w.TmpSize)
	}
	env := make([]string, 0, len(w.Env))
	for _, e := range w.Env {
		name, value, hasValue := strings.Cut(e, "=")
		if !envName.MatchString(name) {
			return fmt.Errorf("--worker-env %q: use NAME=VALUE or NAME", e)
		}
		if !hasValue {
			if value, hasValue = os.LookupEnv(name); !hasValue {
				return fmt.Errorf("--worker-env %s: the server's environment has no %s to pass on", name, name)
			}
		}
		env = append(env, name+"="+value)
	}
	w.Env = env
	return nil
}

// SandboxConfig is the configuration of the workers' sandbox.
func (w Worker) SandboxConfig() sandbox.Config {
	return sandbox.Config{Mechanism: w.Sandbox, User: w.User, Limits: sandbox.Limits{
		Memory: int64(w.MemoryLimit), CPU: w.CPULimit, Processes: w.MaxProcesses,
		FileSize: int64(w.MaxFileSize), TempSize: int64(w.TmpSize)}}
}

// Bytes is a size in bytes that flags read as 1073741824, 512MiB, 8GiB, 1G or 100k
// (K, M, G and T are powers of 1024, with or without "iB").
type Bytes int64

var bytesPattern = regexp.MustCompile(`^(\d+)\s*([kKmMgGtT]?)(i?[bB])?$`)

func (b *Bytes) Set(s string) error {
	m := bytesPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return fmt.Errorf("%q is not a size: use bytes or a number with KiB, MiB, GiB or TiB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a size: %w", s, err)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	if n > (1<<62)>>shift {
		return fmt.Errorf("%q is too large", s)
	}
	*b = Bytes(n << shift)
	return nil
}

func (b Bytes) String() string {
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if b != 0 && b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b>>u.shift), 10) + u.unit
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

func (b *Bytes) Type() string { return "size" }
