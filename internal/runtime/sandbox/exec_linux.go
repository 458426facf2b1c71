package sandbox

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// minLandlockABI is the first Landlock ABI with network rules (Linux 6.7): below it a
// worker could still reach the network, so the landlock mechanism is not offered.
const minLandlockABI = 4

func availableLandlock() error {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil {
		return fmt.Errorf("Landlock is not enabled in this kernel: %v", err)
	}
	if abi < minLandlockABI {
		return fmt.Errorf("the kernel's Landlock ABI %d has no network rules (ABI %d, Linux 6.7, has them)", abi, minLandlockABI)
	}
	return nil
}

// helperOptions are the arguments of `sandbox-exec`.
type helperOptions struct {
	memory, fileSize, cpu int64
	processes             int
	uid, gid              int
	landlock              bool
	readOnly, readWrite   pathList
}

type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(v string) error { *p = append(*p, v); return nil }

func parseHelperArgs(args []string) (helperOptions, []string, error) {
	var o helperOptions
	fs := flag.NewFlagSet(HelperCommand, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Int64Var(&o.memory, "memory", 0, "RLIMIT_AS in bytes")
	fs.Int64Var(&o.cpu, "cpu", 0, "RLIMIT_CPU in seconds")
	fs.IntVar(&o.processes, "processes", 0, "RLIMIT_NPROC")
	fs.Int64Var(&o.fileSize, "file-size", 0, "RLIMIT_FSIZE in bytes")
	fs.IntVar(&o.uid, "uid", -1, "user to run as")
	fs.IntVar(&o.gid, "gid", -1, "group to run as")
	fs.BoolVar(&o.landlock, "landlock", false, "confine with Landlock")
	fs.Var(&o.readOnly, "ro", "path the program may read (repeated)")
	fs.Var(&o.readWrite, "rw", "path the program may read and write (repeated)")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if fs.NArg() == 0 {
		return o, nil, errors.New("no program to run")
	}
	return o, fs.Args(), nil
}

// Main is `mlship sandbox-exec [OPTIONS] -- PROGRAM ARGS...`, the last step into the
// sandbox: it sets the resource limits, drops to the worker user, sets no_new_privs
// and the parent-death signal, applies Landlock when asked, and execs PROGRAM. It
// returns only on failure, with the exit status to use.
func Main(args []string) int {
	// no_new_privs, the parent-death signal and a Landlock domain belong to the
	// thread that sets them, and execve keeps the calling thread's: all must be one.
	runtime.LockOSThread()
	o, argv, err := parseHelperArgs(args)
	if err == nil {
		err = o.enter(argv)
	}
	fmt.Fprintf(os.Stderr, "mlship %s: %v\n", HelperCommand, err)
	return 126
}

// enter confines this process and execs argv; it returns only on failure.
func (o helperOptions) enter(argv []string) error {
	parent := os.Getppid()
	if err := o.setLimits(); err != nil {
		return err
	}
	ruleset, flags := -1, uint32(0)
	if o.landlock {
		var err error
		if ruleset, flags, err = o.landlockRuleset(); err != nil {
			return err
		}
	}
	if err := o.dropUser(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	// Changing the user clears the parent-death signal: set it again, and make sure
	// the parent did not die in between.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set the parent-death signal: %w", err)
	}
	if os.Getppid() != parent {
		return errors.New("the server exited")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if ruleset >= 0 {
		if err := ll.LandlockRestrictSelf(ruleset, flags); err != nil {
			return fmt.Errorf("apply Landlock: %w", err)
		}
	}
	return syscall.Exec(path, argv, os.Environ())
}

func (o helperOptions) setLimits() error {
	limits := []struct {
		name     string
		resource int
		value    int64
	}{
		{"memory", unix.RLIMIT_AS, o.memory},
		{"CPU time", unix.RLIMIT_CPU, o.cpu},
		{"processes", unix.RLIMIT_NPROC, int64(o.processes)},
		{"file size", unix.RLIMIT_FSIZE, o.fileSize},
	}
	for _, l := range limits {
		if l.value <= 0 {
			continue
		}
		v := uint64(l.value)
		if err := unix.Setrlimit(l.resource, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("set the %s limit to %d: %w", l.name, v, err)
		}
	}
	return nil
}

// dropUser makes the worker user the real, effective and saved user and group, with
// no supplementary groups. Go applies each call to every thread of the process.
func (o helperOptions) dropUser() error {
	if o.uid < 0 {
		return nil
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("clear supplementary groups: %w", err)
	}
	if err := syscall.Setresgid(o.gid, o.gid, o.gid); err != nil {
		return fmt.Errorf("set group %d: %w", o.gid, err)
	}
	if err := syscall.Setresuid(o.uid, o.uid, o.uid); err != nil {
		return fmt.Errorf("set user %d: %w", o.uid, err)
	}
	return nil
}

// landlockRuleset builds the ruleset: read (and execute) the given paths, read and
// write the private directory and /dev/null, bind and connect no TCP port, and reach no
// abstract UNIX socket or process outside the sandbox.
func (o helperOptions) landlockRuleset() (fd int, flags uint32, err error) {
	roDirs, roFiles := splitDirs(o.readOnly)
	rules := []landlock.Rule{
		landlock.RODirs(roDirs...),
		landlock.ROFiles(roFiles...),
		landlock.RWDirs(o.readWrite...),
		landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full").IgnoreIfMissing(),
	}
	fd, flags, err = landlock.V6.BestEffort().NewRulesetFD(rules...)
	if err != nil {
		return -1, 0, fmt.Errorf("build the Landlock ruleset: %w", err)
	}
	if fd < 0 {
		return -1, 0, errors.New("Landlock is not available")
	}
	return fd, flags, nil
}

// splitDirs sorts the paths that exist into directories and other files: Landlock
// grants directory rights only on directories.
func splitDirs(paths []string) (dirs, files []string) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
		case fi.IsDir():
			dirs = append(dirs, p)
		default:
			files = append(files, p)
		}
	}
	return dirs, files
}
