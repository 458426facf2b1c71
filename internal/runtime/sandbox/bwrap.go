package sandbox

import (
	"cmp"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// helperInside is where the helper binary is bound inside a bubblewrap sandbox.
const helperInside = "/run/mlship/sandbox-exec"

// rootLinks are the top-level directories that merged-/usr systems make symlinks into
// /usr; each is bound as the host has it.
var rootLinks = []string{"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}

// etcFiles are the only files of /etc a worker sees: the dynamic linker's
// configuration, the alternatives that /usr/bin symlinks point into, the time zone, and
// R's configuration, which Rscript reads at start.
var etcFiles = []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/alternatives", "/etc/localtime", "/etc/R"}

func (s *Sandbox) availableBwrap() error {
	if s.bwrap == "" {
		return errors.New("bwrap is not installed (Debian and Ubuntu: apt-get install bubblewrap)")
	}
	return nil
}

// bwrapCommand runs p under bubblewrap: a new mount namespace holding /usr, a few
// files of /etc, /proc, a minimal /dev, a sized tmpfs on /tmp and /dev/shm, the helper,
// and p's directories read-only; no network, its own PID, IPC, UTS and cgroup
// namespaces; killed with its parent.
func (s *Sandbox) bwrapCommand(p Process) *exec.Cmd {
	args := []string{"--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
		"--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"}
	if s.uid < 0 {
		// Not root: bwrap needs a user namespace to make the others; the worker keeps
		// the server's (unprivileged) user and may make no further one.
		args = append(args, "--unshare-user", "--disable-userns")
	}
	args = append(args, "--ro-bind", "/usr", "/usr")
	args = append(args, rootLinkArgs()...)
	args = append(args, "--dir", "/etc") // bwrap would make it private to root
	for _, f := range etcFiles {
		args = append(args, "--ro-bind-try", f, f)
	}
	size := strconv.FormatInt(s.limits.TempSize, 10)
	args = append(args, "--proc", "/proc", "--dev", "/dev",
		"--perms", "1777", "--size", size, "--tmpfs", "/tmp",
		"--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
		"--ro-bind", s.helper, helperInside)
	args = append(args, roBindArgs(bindPaths(append([]string{p.Dir}, p.ReadOnly...)))...)
	args = append(args, "--chdir", p.Dir, "--", helperInside)
	args = append(append(append(args, s.helperArgs()...), "--"), p.Argv...)
	cmd := exec.Command(s.bwrap, args...)
	cmd.Env = withTemp(p.Env, "/tmp")
	return cmd
}

// rootLinkArgs recreates the host's top-level links into /usr, and binds any of those
// directories that is a real one.
func rootLinkArgs() []string {
	var args []string
	for _, p := range rootLinks {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				args = append(args, "--symlink", target, p)
			}
		case fi.IsDir():
			args = append(args, "--ro-bind", p, p)
		}
	}
	return args
}

// roBindArgs binds each path read-only at the same place. bwrap gives the parents it
// creates the host's modes, so a path under a private directory (/root, a 0700
// temporary directory) would be out of the worker user's reach: the parents are made
// first, open to all, unless they lie inside a path bound before.
func roBindArgs(paths []string) []string {
	var args, bound []string
	made := map[string]bool{"/": true, "/tmp": true}
	for _, p := range paths {
		if slices.ContainsFunc(bound, func(b string) bool { return within(p, b) }) {
			continue // shown already, and a bind on a link would land on its target
		}
		for _, dir := range ancestors(p) {
			if made[dir] || slices.ContainsFunc(bound, func(b string) bool { return within(dir, b) }) {
				continue
			}
			made[dir] = true
			args = append(args, "--dir", dir)
		}
		args = append(args, "--ro-bind-try", p, p)
		bound = append(bound, p)
	}
	return args
}

// ancestors returns p's parent directories, outermost first, without "/".
func ancestors(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		out = append(out, d)
	}
	slices.Reverse(out)
	return out
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// bindPaths cleans paths and drops those under /usr (bound already) and duplicates,
// shortest first so that a path bound inside another lands on top of it.
func bindPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		p = filepath.Clean(p)
		if p == "/" || p == "/usr" || strings.HasPrefix(p, "/usr/") {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(len(a)-len(b), strings.Compare(a, b)) })
	return slices.Compact(out)
}
