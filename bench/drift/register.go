package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mlship/mlship/bench/internal/benchkit"
)

// The registration figure: the same big CSV file registered with `mlship data add`
// against a local server (stored by content and profiled in one pass) and added with
// `dvc add` to a fresh Git + DVC repository (md5, then into DVC's cache).

const (
	toolMlship = "mlship"
	toolDVC    = "dvc"
)

// regRun is one registration of the file by one tool.
type regRun struct {
	Tool       string  `json:"tool"`
	Seconds    float64 `json:"seconds"`
	GBps       float64 `json:"gb_per_s"`
	CPUSeconds float64 `json:"cpu_seconds"` // mlship: the server's; dvc: the dvc process's
	// PeakRSS is the server's VmHWM during the registration (mlship) or the dvc
	// process's max RSS.
	PeakRSS      int64  `json:"peak_rss_bytes"`
	ClientMaxRSS int64  `json:"client_max_rss_bytes,omitempty"`
	LinkType     string `json:"link_type,omitempty"`
	LoadBefore   string `json:"load_before"`
}

// registerResult is the registration figure.
type registerResult struct {
	File          string   `json:"file"`
	Size          int64    `json:"size_bytes"`
	RequestedSize int64    `json:"requested_size_bytes"`
	Rows          int64    `json:"rows,omitempty"`
	Notes         []string `json:"notes,omitempty"`
	GenerateS     float64  `json:"generate_seconds"`
	FSType        string   `json:"filesystem"`
	DVCVersion    string   `json:"dvc_version"`
	DVCStartupS   float64  `json:"dvc_startup_seconds"`
	DVCCacheType  string   `json:"dvc_cache_type"`
	Runs          []regRun `json:"runs"`
}

// best returns the fastest run of a tool.
func (r *registerResult) best(tool string) (regRun, bool) {
	var b regRun
	found := false
	for _, run := range r.Runs {
		if run.Tool == tool && (!found || run.Seconds < b.Seconds) {
			b, found = run, true
		}
	}
	return b, found
}

// regOrder is the order of the runs: ABBA, so that neither tool always goes first.
func regOrder(runs int) []string {
	var order []string
	for i := range runs {
		if i%2 == 0 {
			order = append(order, toolMlship, toolDVC)
		} else {
			order = append(order, toolDVC, toolMlship)
		}
	}
	return order
}

// fitSize returns the largest file size not above want for which avail bytes of disk
// hold the file, mlship's two copies of it while it stores it (a temporary object,
// then the object) and a margin; 0 when not even minRegSize fits.
func fitSize(want, avail int64) int64 {
	const margin, step = 1 << 30, 64 << 20
	if 3*want+margin <= avail {
		return want
	}
	size := (avail - margin) / 3 / step * step
	if size < minRegSize {
		return 0
	}
	return size
}

const minRegSize = 256 << 20

func diskAvail(dir string) (int64, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, "unknown"
	}
	return int64(st.Bavail) * st.Bsize, fsName(st.Type)
}

// fsName names the common Linux filesystems by their magic number; reflinks (which DVC
// tries first) exist on btrfs and xfs, not on ext4 or tmpfs.
func fsName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext2/3/4"
	case 0x9123683E:
		return "btrfs"
	case 0x58465342:
		return "xfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", magic)
}

func benchRegister(ctx context.Context, cfg config, work string, logger *log.Logger) (*registerResult, error) {
	avail, fs := diskAvail(work)
	res := &registerResult{RequestedSize: cfg.regSize, FSType: fs}
	res.Size = fitSize(cfg.regSize, avail)
	switch {
	case res.Size == 0:
		return nil, fmt.Errorf("only %s free in %s: not enough for a %s registration file and its copies", gib(avail), work, gib(cfg.regSize))
	case res.Size < cfg.regSize:
		res.Notes = append(res.Notes, fmt.Sprintf("only %s free in %s: the file is %s instead of %s (it needs 3x its size and 1 GiB)",
			gib(avail), work, gib(res.Size), gib(cfg.regSize)))
		logger.Printf("register: %s", res.Notes[len(res.Notes)-1])
	}
	dir := filepath.Join(work, "register")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res.File = filepath.Join(dir, "register.csv")
	logger.Printf("register: writing %s of CSV (%d columns) to %s", gib(res.Size), cfg.cols, res.File)
	t0 := time.Now()
	n, err := newSchema(cfg.cols).writeFile(res.File, fileRegister, 0, res.Size)
	if err != nil {
		return nil, err
	}
	res.GenerateS, res.Size = time.Since(t0).Seconds(), n
	if err := res.dvcFacts(ctx, cfg, dir); err != nil {
		return nil, err
	}
	for i, tool := range regOrder(cfg.regRuns) {
		logger.Printf("register: run %d of %d, %s", i+1, 2*cfg.regRuns, tool)
		run, err := res.runTool(ctx, cfg, tool, filepath.Join(dir, fmt.Sprint(i)), logger)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tool, err)
		}
		run.GBps = float64(res.Size) / 1e9 / run.Seconds
		logger.Printf("register: %s %.1f s, %.2f GB/s", tool, run.Seconds, run.GBps)
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

func (r *registerResult) runTool(ctx context.Context, cfg config, tool, dir string, logger *log.Logger) (regRun, error) {
	if tool == toolDVC {
		return r.runDVC(ctx, cfg, dir)
	}
	return r.runMlship(ctx, cfg, logger)
}

// runMlship registers the file on a fresh server: no earlier copy in its store.
func (r *registerResult) runMlship(ctx context.Context, cfg config, logger *log.Logger) (regRun, error) {
	s, err := benchkit.StartMlship(ctx, cfg.server(), logger)
	if err != nil {
		return regRun{}, err
	}
	defer s.Cleanup(false, logger)
	st, _, err := register(ctx, s, "register", "register-bench", r.File, r.Size, cfg.stepTimeout)
	if err != nil {
		return regRun{}, err
	}
	return regRun{Tool: toolMlship, Seconds: st.Seconds, CPUSeconds: st.ServerCPU, PeakRSS: st.ServerPeakRSS,
		ClientMaxRSS: st.ClientMaxRSS, LoadBefore: st.LoadBefore}, nil
}

// dvcEnv keeps DVC from phoning home (no analytics) and keeps its per-repository state
// (the hashes it has computed, kept under /var/tmp/dvc by default) in siteCache, inside
// the temporary directory: no run finds an earlier run's hashes, and nothing is left.
func dvcEnv(siteCache string) []string {
	return append(os.Environ(), "DVC_NO_ANALYTICS=1", "ITERATIVE_DO_NOT_TRACK=1", "DO_NOT_TRACK=1",
		"DVC_SITE_CACHE_DIR="+siteCache)
}

func (r *registerResult) dvcFacts(ctx context.Context, cfg config, dir string) error {
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, cfg.dvc, "--version")
	cmd.Env = dvcEnv(filepath.Join(dir, "dvc-site-cache"))
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s --version: %w", cfg.dvc, err)
	}
	r.DVCStartupS = time.Since(t0).Seconds()
	r.DVCVersion = strings.TrimSpace(string(out))
	return nil
}

// runDVC adds the file to a fresh repository in dir. The file is hard-linked into the
// repository, so both tools read the same bytes from the same page cache; DVC copies
// it into its cache (or links it, per cache.type) and leaves the workspace file be.
func (r *registerResult) runDVC(ctx context.Context, cfg config, dir string) (regRun, error) {
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "repo")
	if err := r.initDVCRepo(ctx, cfg, dir, repo); err != nil {
		return regRun{}, err
	}
	target := filepath.Join(repo, filepath.Base(r.File))
	if err := os.Link(r.File, target); err != nil {
		return regRun{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.dvc, "add", "--quiet", filepath.Base(target))
	cmd.Dir, cmd.Env = repo, dvcEnv(filepath.Join(dir, "site-cache"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	run := regRun{Tool: toolDVC, LoadBefore: benchkit.LoadAvg()}
	t0 := time.Now()
	err := cmd.Run()
	run.Seconds = time.Since(t0).Seconds()
	if err != nil {
		return run, fmt.Errorf("dvc add: %w\n%s", err, benchkit.LastBytes(out.Bytes(), 2000))
	}
	run.PeakRSS = benchkit.CommandMaxRSS(cmd)
	run.CPUSeconds = childCPU(cmd)
	run.LinkType = dvcLinkType(repo, target, r.FSType)
	return run, nil
}

func (r *registerResult) initDVCRepo(ctx context.Context, cfg config, dir, repo string) error {
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	steps := [][]string{
		{"git", "init", "--quiet"},
		{cfg.dvc, "init", "--quiet"},
		{cfg.dvc, "config", "core.analytics", "false"},
		{cfg.dvc, "config", "core.check_update", "false"},
	}
	env := dvcEnv(filepath.Join(dir, "site-cache"))
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, s[0], s[1:]...)
		cmd.Dir, cmd.Env = repo, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(s, " "), err, benchkit.LastBytes(out, 2000))
		}
	}
	if r.DVCCacheType == "" {
		cmd := exec.CommandContext(ctx, cfg.dvc, "config", "cache.type")
		cmd.Dir, cmd.Env = repo, env
		out, _ := cmd.Output()
		r.DVCCacheType = strings.TrimSpace(string(out))
		if r.DVCCacheType == "" {
			r.DVCCacheType = "unset (DVC's default: reflink,copy)"
		}
	}
	return nil
}

// dvcLinkType tells how the workspace file relates to its copy in DVC's cache.
func dvcLinkType(repo, target, fs string) string {
	md5 := dvcFileMD5(target + ".dvc")
	if len(md5) < 3 {
		return "unknown (no md5 in " + filepath.Base(target) + ".dvc)"
	}
	cached := filepath.Join(repo, ".dvc", "cache", "files", "md5", md5[:2], md5[2:])
	ws, err1 := os.Lstat(target)
	cs, err2 := os.Stat(cached)
	switch {
	case err1 != nil || err2 != nil:
		return fmt.Sprintf("unknown (%v, %v)", err1, err2)
	case ws.Mode()&os.ModeSymlink != 0:
		return "symlink"
	case os.SameFile(ws, cs):
		return "hardlink"
	case fs == "btrfs" || fs == "xfs":
		return "copy or reflink (separate files)"
	}
	return "copy (separate files; " + fs + " has no reflinks)"
}

func dvcFileMD5(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
		if v, ok := strings.CutPrefix(line, "md5:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// childCPU is the user + system CPU time of a command that has run.
func childCPU(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

func gib(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
