package process

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// interpreter is how an embedded worker finds its interpreter and the directories of
// its installation, which the sandbox lets the worker read.
type interpreter struct {
	envVar, def string
	// install asks the interpreter at exe where it is installed.
	install func(ctx context.Context, exe string) (program string, paths []string, err error)
}

// installs caches what each interpreter said about its installation, by name.
var installs sync.Map // string -> installation

type installation struct {
	program string
	paths   []string
}

// interpreterTimeout bounds asking an interpreter where it is installed.
const interpreterTimeout = 30 * time.Second

// find returns the program to run for the interpreter name and the paths of its
// installation. It asks the interpreter once per process.
func (in interpreter) find(name string) (string, []string, error) {
	if v, ok := installs.Load(name); ok {
		i := v.(installation)
		return i.program, i.paths, nil
	}
	exe, err := exec.LookPath(name)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), interpreterTimeout)
	defer cancel()
	program, paths, err := in.install(ctx, exe)
	if err != nil {
		return "", nil, err
	}
	prog, more := programPaths(program)
	i := installation{program: prog, paths: append(more, paths...)}
	installs.Store(name, i)
	return i.program, i.paths, nil
}

// pythonInstall asks Python for its executable and prefixes: for a virtualenv both
// the environment and the installation it was made from. The executable is run by the
// path Python gives (a virtualenv's, not its symlink's target), so that it finds its
// environment; a launcher such as a pyenv shim is replaced by the real interpreter.
func pythonInstall(ctx context.Context, exe string) (string, []string, error) {
	lines, err := ask(ctx, exe, "-c",
		"import sys; print(sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sep='\\n')")
	if err != nil {
		return "", nil, err
	}
	if len(lines) < 2 || lines[0] == "" {
		return "", nil, fmt.Errorf("%s did not say where it is installed", exe)
	}
	return lines[0], lines[1:], nil
}

// rInstall asks R for its home and library directories.
func rInstall(ctx context.Context, exe string) (string, []string, error) {
	lines, err := ask(ctx, exe, "-e", `cat(R.home(), .libPaths(), sep = "\n")`)
	if err != nil {
		return "", nil, err
	}
	return exe, lines, nil
}

// ask runs an interpreter with the server's own environment (it is the operator's
// interpreter, not model code) and returns the lines it printed.
func ask(ctx context.Context, exe string, args ...string) ([]string, error) {
	out, err := exec.CommandContext(ctx, exe, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("%s failed: %v %s", exe, err, msg)
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// programPaths returns the program to run for name (its absolute path, found on the
// server's PATH if name has no slash) and the paths the sandbox must show for it to
// run: the program and, if it is a symbolic link, its target.
func programPaths(name string) (string, []string) {
	path, err := exec.LookPath(name)
	if err != nil {
		return name, nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	paths := []string{path}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		paths = append(paths, real)
	}
	if _, err := os.Stat(path); err != nil {
		return name, nil
	}
	return path, paths
}
