package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/fault"
)

// versionRef is a model version named on the command line: NAME/VERSION or NAME@ALIAS.
type versionRef struct {
	name, version, alias string
}

// parseVersionRef parses NAME/VERSION or NAME@ALIAS; with optional, a bare NAME is
// accepted too. Model names cannot contain '/'.
func parseVersionRef(arg string, optional bool) (versionRef, error) {
	if name, v, ok := strings.Cut(arg, "/"); ok {
		if name == "" || v == "" || strings.Trim(v, "0123456789") != "" {
			return versionRef{}, usageError{fmt.Errorf("%q: want NAME/VERSION with a version number, or NAME@ALIAS", arg)}
		}
		return versionRef{name: name, version: v}, nil
	}
	if i := strings.LastIndexByte(arg, '@'); i > 0 && i < len(arg)-1 {
		return versionRef{name: arg[:i], alias: arg[i+1:]}, nil
	}
	if optional && arg != "" {
		return versionRef{name: arg}, nil
	}
	return versionRef{}, usageError{fmt.Errorf("%q: want NAME/VERSION or NAME@ALIAS", arg)}
}

// resolve returns the version number the reference names, asking the server for an alias.
func (r versionRef) resolve(ctx context.Context, cl *client.Client) (string, error) {
	if r.alias == "" {
		return r.version, nil
	}
	var out struct {
		ModelVersion modelVersion `json:"model_version"`
	}
	err := cl.Get(ctx, registry+"registered-models/alias", url.Values{"name": {r.name}, "alias": {r.alias}}, &out)
	return out.ModelVersion.Version, err
}

func versionPath(name, version, action string) string {
	return api.Prefix + "models/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version) + "/" + action
}

// lineage connects to the server and fetches the lineage of the version arg names
// (NAME/VERSION or NAME@ALIAS).
func (f *clientFlags) lineage(ctx context.Context, arg string) (*client.Client, *api.Lineage, error) {
	ref, err := parseVersionRef(arg, false)
	if err != nil {
		return nil, nil, err
	}
	cl, err := f.client()
	if err != nil {
		return nil, nil, err
	}
	v, err := ref.resolve(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	var l api.Lineage
	return cl, &l, cl.Get(ctx, versionPath(ref.name, v, "lineage"), nil, &l)
}

func modelsLineageCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "lineage NAME@ALIAS|NAME/VERSION",
		Short: "Show where a model version came from: run, code, data, environment and files",
		Example: `  mlship models lineage fraud@champion
  mlship models lineage fraud/3 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, l, err := f.lineage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), l, func(t *tabwriter.Writer) { printLineage(t, l) })
		},
	}
	f.add(c)
	return c
}

func printLineage(t *tabwriter.Writer, l *api.Lineage) {
	v := l.Version
	fmt.Fprintln(t, "MODEL")
	row(t, "  Name:", l.Model.Name)
	row(t, "  Owner:", l.Model.Owner)
	row(t, "  Contact:", l.Model.Contact)
	row(t, "  Version:", v.Version)
	row(t, "  Aliases:", strings.Join(v.Aliases, ","))
	row(t, "  Created:", millis(v.CreationTimestamp))
	row(t, "  Created by:", v.UserID)
	row(t, "  Source:", v.Source)
	row(t, "  Manifest:", v.ManifestDigest)
	for _, k := range sortedKeys(v.Tags) {
		row(t, "  Tag "+k+":", v.Tags[k])
	}
	printRun(t, l.Run)
	fmt.Fprintln(t, "\nCODE")
	row(t, "  Git repo:", l.SourceCode.GitRepo)
	row(t, "  Git commit:", l.SourceCode.GitCommit)
	row(t, "  Git branch:", l.SourceCode.GitBranch)
	row(t, "  Entry point:", l.SourceCode.EntryPoint)
	row(t, "  Source type:", l.SourceCode.SourceType)
	fmt.Fprintln(t, "\nDATASETS")
	for _, d := range l.Datasets {
		row(t, "  "+d.Name, d.Context, d.Digest, d.SourceType, d.Source)
	}
	fmt.Fprintln(t, "\nFILES")
	for _, fl := range l.Files {
		row(t, "  "+fl.Path, fl.Size, fl.Digest)
	}
}

func printRun(t *tabwriter.Writer, r *api.LineageRun) {
	fmt.Fprintln(t, "\nRUN")
	if r == nil {
		fmt.Fprintln(t, "  (none)")
		return
	}
	row(t, "  Run:", r.RunID)
	row(t, "  Name:", r.RunName)
	row(t, "  Experiment:", r.ExperimentID)
	row(t, "  User:", r.UserID)
	row(t, "  Status:", r.Status)
	row(t, "  Started:", millisPtr(r.StartTime))
	row(t, "  Ended:", millisPtr(r.EndTime))
	for _, k := range sortedKeys(r.Params) {
		row(t, "  Param "+k+":", r.Params[k])
	}
	for _, k := range sortedKeys(r.Metrics) {
		row(t, "  Metric "+k+":", float64(r.Metrics[k]))
	}
}

func millisPtr(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return millis(*ms)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reproducePlan is how to rebuild a model version, as data.
type reproducePlan struct {
	Model       string            `json:"model"`
	Version     string            `json:"version"`
	Git         api.SourceCode    `json:"git"`
	Environment []environmentStep `json:"environment"`
	Datasets    []api.Dataset     `json:"datasets"`
	Params      map[string]string `json:"params"`
	Command     []string          `json:"command"` // argv of the training command, empty when unknown
	Notes       []string          `json:"notes,omitempty"`
}

// environmentStep writes an environment file and installs what it names.
type environmentStep struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	Install string `json:"install"`
}

func newReproducePlan(l *api.Lineage) reproducePlan {
	p := reproducePlan{Model: l.Model.Name, Version: l.Version.Version, Git: l.SourceCode,
		Environment: []environmentStep{}, Datasets: l.Datasets, Params: map[string]string{}, Command: []string{}}
	if l.Run == nil {
		p.Notes = append(p.Notes, "the version has no run: its code, data and parameters are unknown")
	} else {
		p.Params = l.Run.Params
	}
	if l.SourceCode.GitCommit == "" {
		p.Notes = append(p.Notes, "the run recorded no git commit (tag mlflow.source.git.commit)")
	}
	for _, e := range l.Environment {
		p.Environment = append(p.Environment, environmentStep{Path: path.Base(e.Path), Content: e.Content, Install: installCommand(path.Base(e.Path))})
		if e.Truncated || e.Problem != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("%s is incomplete on the server (%s): fetch it with the model's files", e.Path, cmp.Or(e.Problem, "truncated")))
		}
	}
	p.Command = trainingCommand(l.SourceCode, p.Params)
	return p
}

func installCommand(file string) string {
	switch file {
	case "requirements.txt":
		return "pip install -r requirements.txt"
	case "constraints.txt":
		return "pip install -c constraints.txt -r requirements.txt"
	case "conda.yaml":
		return "conda env create -f conda.yaml"
	case "python_env.yaml":
		return "# python_env.yaml names the Python version and build tools to create the virtualenv with"
	}
	return ""
}

// trainingCommand returns the command that re-runs training with the run's params: an
// MLflow project run for PROJECT sources, otherwise the entry point under python.
func trainingCommand(sc api.SourceCode, params map[string]string) []string {
	keys := sortedKeys(params)
	switch {
	case sc.SourceType == "PROJECT":
		argv := []string{"mlflow", "run", cmp.Or(sc.GitRepo, ".")}
		if sc.GitCommit != "" {
			argv = append(argv, "--version", sc.GitCommit)
		}
		for _, k := range keys {
			argv = append(argv, "-P", k+"="+params[k])
		}
		return argv
	case sc.EntryPoint != "":
		argv := []string{"python", sc.EntryPoint}
		for _, k := range keys {
			argv = append(argv, "--"+k+"="+params[k])
		}
		return argv
	}
	return []string{}
}

// printPlan writes the plan as shell steps.
func printPlan(w io.Writer, p reproducePlan) {
	fmt.Fprintf(w, "# Rebuild %s version %s\n", p.Model, p.Version)
	for _, n := range p.Notes {
		fmt.Fprintf(w, "# NOTE: %s\n", n)
	}
	if p.Git.GitRepo != "" || p.Git.GitCommit != "" {
		fmt.Fprintln(w, "\n# 1. Code")
		repo := cmp.Or(p.Git.GitRepo, "<repository>")
		fmt.Fprintf(w, "git clone %s src && cd src\n", shellQuote(repo))
		if p.Git.GitCommit != "" {
			fmt.Fprintf(w, "git checkout %s", shellQuote(p.Git.GitCommit))
			if p.Git.GitBranch != "" {
				fmt.Fprintf(w, "    # on branch %s", p.Git.GitBranch)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "\n# 2. Environment")
	if len(p.Environment) == 0 {
		fmt.Fprintln(w, "# the version stores no requirements.txt, conda.yaml or python_env.yaml")
	}
	for _, e := range p.Environment {
		writeHeredoc(w, e.Path, e.Content)
		fmt.Fprintln(w, e.Install)
	}
	fmt.Fprintln(w, "\n# 3. Data: fetch these exact datasets")
	if len(p.Datasets) == 0 {
		fmt.Fprintln(w, "# the run logged no datasets")
	}
	for _, d := range p.Datasets {
		fmt.Fprintf(w, "#   %s (%s) digest %s from %s %s\n", d.Name, cmp.Or(d.Context, "-"), d.Digest, d.SourceType, d.Source)
	}
	fmt.Fprintln(w, "\n# 4. Train")
	if len(p.Command) == 0 {
		fmt.Fprintln(w, "# the run recorded no entry point (tag mlflow.source.name); parameters:")
		for _, k := range sortedKeys(p.Params) {
			fmt.Fprintf(w, "#   %s=%s\n", k, p.Params[k])
		}
		return
	}
	printCommand(w, p.Command)
}

// printCommand writes argv one flag per line, quoted for a POSIX shell.
func printCommand(w io.Writer, argv []string) {
	for i, a := range argv {
		switch {
		case i == 0:
			fmt.Fprint(w, shellQuote(a))
		case a == "-P" && i+1 < len(argv):
			fmt.Fprint(w, " \\\n  -P")
		case strings.HasPrefix(a, "--") && i > 1:
			fmt.Fprint(w, " \\\n  "+shellQuote(a))
		default:
			fmt.Fprint(w, " "+shellQuote(a))
		}
	}
	fmt.Fprintln(w)
}

func writeHeredoc(w io.Writer, file, content string) {
	delim := "MLSHIP_EOF"
	for strings.Contains(content, delim) {
		delim += "_"
	}
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	fmt.Fprintf(w, "cat > %s <<'%s'\n%s%s\n", shellQuote(file), delim, content, delim)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func modelsReproduceCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "reproduce NAME@ALIAS|NAME/VERSION",
		Short: "Print the steps that rebuild a model version: code, environment, data and training command",
		Long: `Print the steps that rebuild a model version from its lineage: the git commit to check
out, the environment files to write and install, the datasets (by digest) to fetch, and
the command that re-runs training with the run's parameters. Nothing is run.`,
		Example: `  mlship models reproduce fraud@champion
  mlship models reproduce fraud/3 > rebuild.sh
  mlship models reproduce fraud/3 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, l, err := f.lineage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := newReproducePlan(l)
			if f.out.format == "json" {
				return f.out.print(cmd.OutOrStdout(), p, nil)
			}
			printPlan(cmd.OutOrStdout(), p)
			return nil
		},
	}
	f.add(c)
	return c
}

// errCorruptVersion makes `models verify` exit 1 after it printed what is wrong.
var errCorruptVersion = errors.New("stored files are missing or corrupt")

func modelsVerifyCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "verify NAME[/VERSION]|NAME@ALIAS",
		Short: "Re-hash a model version's stored files, or every version's, and report what is missing or corrupt",
		Long: `Ask the server to re-read and re-hash every stored file of a model version, or of
every version of the model when no version is named. Exits 1 when a file is missing or
corrupt, 3 when the model or version does not exist.`,
		Example: `  mlship models verify fraud
  mlship models verify fraud/3
  mlship models verify fraud@champion -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			results, err := verifyVersions(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if err := f.out.print(cmd.OutOrStdout(), results, func(t *tabwriter.Writer) { printVerifications(t, results) }); err != nil {
				return err
			}
			for _, r := range results {
				if !r.OK && !r.Skipped {
					return errCorruptVersion
				}
			}
			return nil
		},
	}
	f.add(c)
	return c
}

// verification is a version's check, or why it was skipped.
type verification struct {
	api.Verification
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func verifyVersions(ctx context.Context, cl *client.Client, arg string) ([]verification, error) {
	ref, err := parseVersionRef(arg, true)
	if err != nil {
		return nil, err
	}
	versions := []string{ref.version}
	if ref.alias != "" {
		v, err := ref.resolve(ctx, cl)
		if err != nil {
			return nil, err
		}
		versions = []string{v}
	}
	if ref.version == "" && ref.alias == "" {
		if versions, err = allVersions(ctx, cl, ref.name); err != nil {
			return nil, err
		}
	}
	results := []verification{}
	for _, v := range versions {
		r, err := verifyOne(ctx, cl, ref.name, v, len(versions) > 1)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

func allVersions(ctx context.Context, cl *client.Client, name string) ([]string, error) {
	if _, err := getModel(ctx, cl, name); err != nil {
		return nil, err
	}
	vs, err := listVersions(ctx, cl, name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out, nil
}

// verifyOne checks one version. When several are checked, a version whose files this
// server does not store is skipped rather than failing the whole check.
func verifyOne(ctx context.Context, cl *client.Client, name, version string, many bool) (verification, error) {
	var r verification
	err := cl.Send(ctx, "POST", versionPath(name, version, "verify"), struct{}{}, &r.Verification)
	if many && errors.Is(err, fault.Invalid) {
		return verification{Verification: api.Verification{Name: name, Version: version, Problems: []api.Problem{}},
			Skipped: true, Reason: fault.Message(err)}, nil
	}
	return r, err
}

func printVerifications(t *tabwriter.Writer, results []verification) {
	for _, r := range results {
		switch {
		case r.Skipped:
			row(t, r.Name+"/"+r.Version, "SKIPPED", r.Reason)
		case r.OK:
			row(t, r.Name+"/"+r.Version, "OK", r.ManifestDigest)
		default:
			for _, p := range r.Problems {
				row(t, r.Name+"/"+r.Version, strings.ToUpper(p.Kind), cmp.Or(p.Path, "(manifest)"), p.Digest)
			}
		}
	}
}
