// Package sandbox confines the worker processes that run model code. A Python or R
// worker loads whatever a model's files say (a pickle, a loader module), so every
// worker is treated as untrusted code: it may read the model's directory, the
// interpreter's installation and its own script and nothing else of the host's files,
// write only a private temporary directory, reach no network, and run under memory,
// CPU-time, process-count and file-size limits, as an unprivileged user when the server
// runs as root, with no_new_privs set.
//
// Three mechanisms, strongest first, are probed at start by running a trivial program
// in them: "bubblewrap" (Debian's bwrap: mount, network, PID, IPC and UTS namespaces,
// only the needed paths bound read-only, a sized tmpfs /tmp), "landlock" (the kernel's
// Landlock LSM: path rules, no TCP bind or connect, abstract UNIX sockets and signals
// scoped, applied just before exec) and "none". Inside both real sandboxes the program
// that finally execs the worker is mlship itself, run as `mlship sandbox-exec` (see
// Main): it sets the rlimits, drops to the worker user, sets no_new_privs, applies
// Landlock where that is the mechanism, and execs the worker.
package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Mechanisms, strongest first.
const (
	Bubblewrap = "bubblewrap"
	Landlock   = "landlock"
	None       = "none"
	// Auto chooses the strongest mechanism that works here.
	Auto = "auto"
)

// HelperCommand is the subcommand of the helper binary that runs Main.
const HelperCommand = "sandbox-exec"

// Limits are the resource limits of one worker process and its children.
type Limits struct {
	// Memory caps the address space (RLIMIT_AS), in bytes.
	Memory int64
	// CPU caps the CPU time a worker uses over its life (RLIMIT_CPU). A worker that
	// reaches it is killed by the kernel and the pool starts a replacement.
	CPU time.Duration
	// Processes caps the processes and threads of the worker user (RLIMIT_NPROC).
	Processes int
	// FileSize caps the size of a file the worker writes (RLIMIT_FSIZE), in bytes.
	FileSize int64
	// TempSize caps the worker's private /tmp under bubblewrap (a tmpfs), in bytes.
	TempSize int64
}

// Default limits.
const (
	DefaultMemory    = 8 << 30
	DefaultCPU       = time.Hour
	DefaultProcesses = 1024
	DefaultFileSize  = 1 << 30
	DefaultTempSize  = 1 << 30
)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{Memory: DefaultMemory, CPU: DefaultCPU, Processes: DefaultProcesses,
		FileSize: DefaultFileSize, TempSize: DefaultTempSize}
}

// DefaultUser is the user workers run as when the server runs as root.
const DefaultUser = "nobody"

// Config chooses and sets up a sandbox.
type Config struct {
	// Mechanism is auto (the default), bubblewrap, landlock or none.
	Mechanism string
	Limits    Limits
	// User is the user workers run as when the server runs as root: a name from
	// /etc/passwd or a numeric UID (UID:GID for a group other than the user's).
	// Default nobody, else 65534.
	User string
	// Helper is the executable whose `sandbox-exec` subcommand runs Main. Default: this
	// process's executable.
	Helper string
	// Bwrap is bubblewrap's executable. Default: bwrap on $PATH.
	Bwrap string
}

// Sandbox runs worker processes under one mechanism.
type Sandbox struct {
	name   string
	limits Limits
	// uid and gid are the worker's user when the server is root; -1 when it keeps the
	// server's user.
	uid, gid int
	helper   string
	bwrap    string
	// unavailable says why the stronger mechanisms could not be used.
	unavailable []string
}

// Name is the mechanism in use: bubblewrap, landlock or none.
func (s *Sandbox) Name() string { return s.name }

// Limits are the limits applied to every worker (none under the none mechanism).
func (s *Sandbox) Limits() Limits { return s.limits }

// Confined reports whether workers run in a real sandbox.
func (s *Sandbox) Confined() bool { return s.name != None }

// Owner is the UID and GID workers run as, or -1, -1 when they keep the server's
// user.
func (s *Sandbox) Owner() (uid, gid int) { return s.uid, s.gid }

// Unavailable says why each stronger mechanism was not chosen; empty when the
// strongest works.
func (s *Sandbox) Unavailable() string { return strings.Join(s.unavailable, "; ") }

// Unconfined returns the none mechanism: workers run as plain child processes.
func Unconfined() *Sandbox { return &Sandbox{name: None, uid: -1, gid: -1} }

// New probes the mechanisms that cfg allows, strongest first, by running a trivial
// program in each, and returns the first that works. With Mechanism auto and nothing
// working it returns the none mechanism (Unavailable says why); with a mechanism named
// that does not work it returns an error.
func New(cfg Config) (*Sandbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		if uid, gid, err = lookupUser(cfg.User); err != nil {
			return nil, err
		}
	}
	base := Sandbox{limits: cfg.Limits, uid: uid, gid: gid, helper: cfg.Helper, bwrap: cfg.Bwrap}
	var tried []string
	for _, name := range []string{Bubblewrap, Landlock} {
		if cfg.Mechanism != Auto && cfg.Mechanism != name {
			continue
		}
		s := base
		s.name = name
		err := s.probe()
		if err == nil {
			s.unavailable = tried
			return &s, nil
		}
		if cfg.Mechanism == name {
			return nil, fmt.Errorf("the %s sandbox does not work here: %w", name, err)
		}
		tried = append(tried, fmt.Sprintf("%s: %v", name, err))
	}
	s := Unconfined()
	s.unavailable = tried
	return s, nil
}

func (cfg Config) withDefaults() (Config, error) {
	switch cfg.Mechanism {
	case "":
		cfg.Mechanism = Auto
	case Auto, Bubblewrap, Landlock, None:
	default:
		return cfg, fmt.Errorf("unknown sandbox %q: use auto, bubblewrap, landlock or none", cfg.Mechanism)
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.Helper == "" {
		exe, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("cannot find this program's executable, which runs the sandbox: %w", err)
		}
		cfg.Helper = exe
	}
	if cfg.Bwrap == "" {
		cfg.Bwrap, _ = exec.LookPath("bwrap")
	}
	return cfg, nil
}

// lookupUser resolves a user name, UID or UID:GID.
func lookupUser(spec string) (uid, gid int, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	if n, err := strconv.Atoi(u); err == nil {
		uid, gid = n, n
	} else if uid, gid, err = passwdEntry(u); err != nil {
		if u != DefaultUser {
			return 0, 0, err
		}
		uid, gid = 65534, 65534
	}
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, fmt.Errorf("worker user %q: the group must be a number", spec)
		}
	}
	if uid <= 0 || gid <= 0 {
		return 0, 0, fmt.Errorf("worker user %q is root: workers must run as an unprivileged user", spec)
	}
	return uid, gid, nil
}

// passwdEntry reads name's UID and GID from /etc/passwd (os/user needs cgo for NSS,
// and a service user is a local one).
func passwdEntry(name string) (uid, gid int, err error) {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return 0, 0, fmt.Errorf("worker user %q: %w", name, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			break
		}
		return uid, gid, nil
	}
	return 0, 0, fmt.Errorf("worker user %q is not in /etc/passwd; give a UID such as 65534", name)
}

// Process is a worker program to run in the sandbox.
type Process struct {
	// Argv is the program and its arguments. A program name without a slash is looked
	// up on Env's PATH inside the sandbox.
	Argv []string
	// Env is the program's whole environment; the sandbox sets HOME and TMPDIR to the
	// private temporary directory.
	Env []string
	// Dir is the working directory; the program may read it.
	Dir string
	// ReadOnly are other paths the program may read (files or directories).
	ReadOnly []string
}

// Command returns the command that runs p in the sandbox, and a function that
// releases what the sandbox set up for it, to be called once the process has exited.
// The caller sets the command's standard streams and SysProcAttr.
func (s *Sandbox) Command(p Process) (*exec.Cmd, func(), error) {
	if len(p.Argv) == 0 || p.Argv[0] == "" {
		return nil, nil, fmt.Errorf("no program to run")
	}
	switch s.name {
	case Bubblewrap:
		return s.bwrapCommand(p), func() {}, nil
	case Landlock:
		return s.landlockCommand(p)
	}
	tmp, err := os.MkdirTemp("", "mlship-worker-")
	if err != nil {
		return nil, nil, fmt.Errorf("create the worker's temporary directory: %w", err)
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Env, cmd.Dir = withTemp(p.Env, tmp), p.Dir
	return cmd, func() { os.RemoveAll(tmp) }, nil
}

// withTemp returns env with HOME and TMPDIR set to dir.
func withTemp(env []string, dir string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "TMPDIR=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+dir, "TMPDIR="+dir)
}

// helperArgs are the arguments of `sandbox-exec` that apply the limits and the user.
func (s *Sandbox) helperArgs() []string {
	l := s.limits
	args := []string{HelperCommand,
		"--memory", strconv.FormatInt(l.Memory, 10),
		"--cpu", strconv.FormatInt(int64((l.CPU+time.Second-1)/time.Second), 10),
		"--processes", strconv.Itoa(l.Processes),
		"--file-size", strconv.FormatInt(l.FileSize, 10)}
	if s.uid >= 0 {
		args = append(args, "--uid", strconv.Itoa(s.uid), "--gid", strconv.Itoa(s.gid))
	}
	return args
}

// probeTimeout bounds the probe: a helper that is not mlship (a test binary that does
// not handle sandbox-exec, say) must not hang the start.
const probeTimeout = 20 * time.Second

// probe runs a trivial program in the sandbox and checks that it exits cleanly.
func (s *Sandbox) probe() error {
	if err := s.available(); err != nil {
		return err
	}
	cmd, done, err := s.Command(Process{Argv: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/"})
	if err != nil {
		return err
	}
	defer done()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(probeTimeout, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	if !timer.Stop() {
		return fmt.Errorf("a test program did not finish in it within %s (is %s mlship, with its %s command?)", probeTimeout, s.helper, HelperCommand)
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return fmt.Errorf("a test program failed in it: %v: %s", err, msg)
	}
	return nil
}

// available checks, without running anything, that the mechanism can be tried.
func (s *Sandbox) available() error {
	switch s.name {
	case Bubblewrap:
		return s.availableBwrap()
	case Landlock:
		return availableLandlock()
	}
	return nil
}
