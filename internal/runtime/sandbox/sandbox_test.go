package sandbox_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/runtime/sandbox"
)

// The test binary is both the sandbox's helper (`sandbox-exec`, as mlship is) and the
// program run inside it (`probe ACTION ARG`), which reports what it could do.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case sandbox.HelperCommand:
			os.Exit(sandbox.Main(os.Args[2:]))
		case "probe":
			os.Exit(probe(os.Args[2], os.Args[3]))
		}
	}
	os.Exit(m.Run())
}

// probe does one thing and prints "ok: DETAIL" or "denied: ERROR".
func probe(action, arg string) int {
	var detail string
	var err error
	switch action {
	case "read":
		var b []byte
		b, err = os.ReadFile(arg)
		detail = strings.TrimSpace(string(b))
	case "write":
		err = os.WriteFile(os.ExpandEnv(arg), []byte("written from the sandbox"), 0o644)
	case "connect":
		var c net.Conn
		if c, err = net.DialTimeout("tcp", arg, 2*time.Second); err == nil {
			c.Close()
		}
	case "uid":
		detail = strconv.Itoa(os.Getuid())
	case "env":
		detail = strings.Join(os.Environ(), "\n")
	case "bigwrite":
		n, _ := strconv.Atoi(arg)
		err = os.WriteFile(filepath.Join(os.Getenv("TMPDIR"), "big"), make([]byte, n), 0o644)
	case "spawn":
		detail, err = spawnMany(arg)
	}
	if err != nil {
		fmt.Printf("denied: %v\n", err)
		return 0
	}
	fmt.Printf("ok: %s\n", detail)
	return 0
}

// spawnMany starts up to n sleeping children and reports how many started.
func spawnMany(arg string) (string, error) {
	n, _ := strconv.Atoi(arg)
	var started []*exec.Cmd
	defer func() {
		for _, c := range started {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for range n {
		c := exec.Command("sleep", "30")
		if err := c.Start(); err != nil {
			return "", fmt.Errorf("after %d processes: %w", len(started), err)
		}
		started = append(started, c)
	}
	return fmt.Sprintf("started %d processes", len(started)), nil
}

// mechanisms returns a sandbox of each real mechanism, skipping those that do not work
// on this machine with the reason.
func mechanisms(t *testing.T, limits sandbox.Limits, user string) map[string]*sandbox.Sandbox {
	t.Helper()
	out := map[string]*sandbox.Sandbox{}
	for _, name := range []string{sandbox.Bubblewrap, sandbox.Landlock} {
		s, err := sandbox.New(sandbox.Config{Mechanism: name, Limits: limits, User: user})
		if err != nil {
			t.Logf("skipping %s: %v", name, err)
			continue
		}
		out[name] = s
	}
	if len(out) == 0 {
		t.Skip("no sandbox mechanism works on this machine")
	}
	return out
}

// fixture is a model directory, a directory the worker must not touch, and a listener
// on the host's loopback that counts connections.
type fixture struct {
	modelDir, otherDir, binDir string
	listener                   net.Listener
	accepted                   chan struct{}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	// Every directory is open to every user, so that only the sandbox stands between
	// the worker and them, whatever user it runs as.
	f := &fixture{modelDir: filepath.Join(base, "model"), otherDir: filepath.Join(base, "other"),
		accepted: make(chan struct{}, 16)}
	// Landlock leaves file modes in force: the worker user must be able to reach the
	// directories, starting with the test's own, which is private.
	os.Chmod(filepath.Dir(base), 0o755)
	for _, d := range []string{base, f.modelDir, f.otherDir} {
		os.MkdirAll(d, 0o777)
		os.Chmod(d, 0o777)
	}
	writeFile(t, filepath.Join(f.modelDir, "model.txt"), "the model")
	writeFile(t, filepath.Join(f.otherDir, "secret.txt"), "another directory's secret")
	// The probe is this test binary, copied where the worker user may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	f.binDir = filepath.Join(base, "bin")
	os.Mkdir(f.binDir, 0o755)
	if err := os.WriteFile(filepath.Join(f.binDir, "probe"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if f.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.listener.Close() })
	go func() {
		for {
			c, err := f.listener.Accept()
			if err != nil {
				return
			}
			c.Close()
			f.accepted <- struct{}{}
		}
	}()
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs the probe in s and returns its one line of output.
func (f *fixture) run(t *testing.T, s *sandbox.Sandbox, env []string, action, arg string) string {
	t.Helper()
	cmd, done, err := s.Command(sandbox.Process{Argv: []string{filepath.Join(f.binDir, "probe"), "probe", action, arg},
		Env: append([]string{"PATH=/usr/bin:/bin"}, env...), Dir: f.modelDir, ReadOnly: []string{f.binDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s in %s: %v; stderr: %s", action, arg, s.Name(), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestConfinement(t *testing.T) {
	t.Setenv("MLSHIP_PLANTED_SECRET", "s3cr3t")
	f := newFixture(t)
	wantUID := strconv.Itoa(os.Getuid())
	if os.Geteuid() == 0 {
		wantUID = "65534"
	}
	for name, s := range mechanisms(t, sandbox.DefaultLimits(), "") {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				action, arg string
				env         []string
				ok          bool
				detail      string // what the output must contain, if anything
			}{
				{"read", filepath.Join(f.modelDir, "model.txt"), nil, true, "the model"},
				{"read", "/etc/shadow", nil, false, ""},
				{"read", "/etc/passwd", nil, false, ""},
				{"read", filepath.Join(f.otherDir, "secret.txt"), nil, false, ""},
				{"write", filepath.Join(f.otherDir, "planted.txt"), nil, false, ""},
				{"write", filepath.Join(f.modelDir, "planted.txt"), nil, false, ""},
				{"write", "/usr/planted.txt", nil, false, ""},
				{"connect", f.listener.Addr().String(), nil, false, ""},
				{"uid", "", nil, true, "ok: " + wantUID},
				{"env", "", []string{"GIVEN=yes"}, true, "GIVEN=yes"},
			}
			for _, c := range cases {
				out := f.run(t, s, c.env, c.action, c.arg)
				if got := strings.HasPrefix(out, "ok:"); got != c.ok {
					t.Errorf("%s %s: got %q, want ok=%v", c.action, c.arg, out, c.ok)
				}
				if !strings.Contains(out, c.detail) {
					t.Errorf("%s %s: got %q, want it to contain %q", c.action, c.arg, out, c.detail)
				}
			}
			env := f.run(t, s, nil, "env", "")
			if strings.Contains(env, "MLSHIP_PLANTED_SECRET") {
				t.Errorf("the server's environment leaked into the worker's: %s", env)
			}
			if out := f.run(t, s, nil, "write", "$TMPDIR/scratch.txt"); out != "ok:" {
				t.Errorf("writing its own temporary directory: %q", out)
			}
		})
	}
	for _, name := range []string{"planted.txt"} {
		for _, dir := range []string{f.otherDir, f.modelDir} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("a sandboxed worker wrote %s", filepath.Join(dir, name))
			}
		}
	}
	select {
	case <-f.accepted:
		t.Error("a sandboxed worker connected to the host's loopback")
	default:
	}
}

func TestLimits(t *testing.T) {
	limits := sandbox.Limits{Memory: 3 << 30, CPU: 90 * time.Second, Processes: 64, FileSize: 5 << 20, TempSize: 16 << 20}
	f := newFixture(t)
	// The process limit counts every process of the user: a user of the test's own
	// keeps other workers running as nobody out of the count.
	for name, s := range mechanisms(t, limits, "64999:64999") {
		t.Run(name, func(t *testing.T) {
			out := f.run(t, s, nil, "read", "/proc/self/limits")
			for _, want := range []string{
				`Max cpu time\s+90\s+90\s+seconds`,
				`Max file size\s+5242880\s+5242880\s+bytes`,
				`Max processes\s+64\s+64\s+processes`,
				`Max address space\s+3221225472\s+3221225472\s+bytes`,
			} {
				if !regexpMatch(want, out) {
					t.Errorf("/proc/self/limits lacks %q:\n%s", want, out)
				}
			}
			// A fork bomb stops at the process limit (the threads of the probe count).
			out = f.run(t, s, nil, "spawn", "200")
			if !strings.HasPrefix(out, "denied: after ") || !strings.Contains(out, "resource temporarily unavailable") {
				t.Errorf("200 processes under a limit of 64: %q", out)
			}
			// A file cannot grow past the file-size limit.
			out = f.run(t, s, nil, "bigwrite", strconv.Itoa(8<<20))
			if !strings.Contains(out, "file too large") {
				t.Errorf("writing 8 MiB under a limit of 5 MiB: %q", out)
			}
		})
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

func TestNew(t *testing.T) {
	cases := []struct {
		name    string
		cfg     sandbox.Config
		wantErr string
	}{
		{"unknown mechanism", sandbox.Config{Mechanism: "chroot"}, "unknown sandbox"},
		{"bubblewrap missing", sandbox.Config{Mechanism: sandbox.Bubblewrap, Bwrap: "/nonexistent/bwrap"}, "does not work here"},
		{"root as the worker user", sandbox.Config{Mechanism: sandbox.None, User: "0"}, "unprivileged"},
		{"none", sandbox.Config{Mechanism: sandbox.None}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg.User != "" && os.Geteuid() != 0 {
				t.Skip("the worker user applies only to a server run as root")
			}
			s, err := sandbox.New(c.cfg)
			if c.wantErr == "" {
				if err != nil || s.Name() != c.cfg.Mechanism {
					t.Fatalf("got %v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestUnconfinedEnvironment(t *testing.T) {
	t.Setenv("MLSHIP_PLANTED_SECRET", "s3cr3t")
	f := newFixture(t)
	out := f.run(t, sandbox.Unconfined(), []string{"GIVEN=yes"}, "env", "")
	if strings.Contains(out, "MLSHIP_PLANTED_SECRET") || !strings.Contains(out, "GIVEN=yes") || !strings.Contains(out, "TMPDIR=") {
		t.Errorf("the unconfined worker's environment: %s", out)
	}
}

// BenchmarkStart measures what a sandbox adds to starting a worker: running true in it.
func BenchmarkStart(b *testing.B) {
	for _, name := range []string{sandbox.None, sandbox.Landlock, sandbox.Bubblewrap} {
		s, err := sandbox.New(sandbox.Config{Mechanism: name})
		if err != nil {
			b.Logf("skipping %s: %v", name, err)
			continue
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				cmd, done, err := s.Command(sandbox.Process{Argv: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/"})
				if err != nil {
					b.Fatal(err)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				done()
			}
		})
	}
}
