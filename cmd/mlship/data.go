package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/datasets"
)

func dataCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Register and inspect dataset versions on an mlship server",
		Long: `Register the data models learn from as immutable versions: each file is stored by
content, with its schema and a statistical profile computed as it is stored. A
version's digest can be carried by MLflow's log_input, so a model's lineage leads back
to the exact data, and drift monitoring compares live traffic with it.`,
		Example: `  mlship data add credit ./credit.csv
  mlship data list
  mlship data show credit/2 -o json`,
	}
	c.AddCommand(dataAddCommand(), dataListCommand(), dataShowCommand())
	return c
}

type registeredVersion struct {
	datasets.Version
	Created bool `json:"created"`
}

func dataAddCommand() *cobra.Command {
	var f clientFlags
	var format, file string
	var quiet, allowMixed bool
	c := &cobra.Command{
		Use:   "add NAME PATH",
		Short: "Register a file (CSV, JSON lines or Parquet) as a new version of a dataset",
		Long: `Upload PATH and register it as the next version of dataset NAME. The server stores it
by content and profiles it in the same pass; a file it cannot read (a ragged CSV row,
a malformed JSON line, a word in a column of numbers) is refused with the line at
fault, and nothing is registered.
Registering bytes the dataset already has returns that version.`,
		Example: "  mlship data add credit ./credit.csv\n  mlship data add events ./events.log --format jsonl -o json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			fh, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer fh.Close()
			fi, err := fh.Stat()
			if err != nil {
				return err
			}
			if file == "" {
				file = filepath.Base(args[1])
			}
			var body io.Reader = fh
			if !quiet && f.out.format == "table" && onTerminal(cmd.ErrOrStderr()) {
				body = newUploadProgress(fh, cmd.ErrOrStderr(), file, fi.Size())
			}
			q := url.Values{"file": {file}}
			if format != "" {
				q.Set("format", format)
			}
			if allowMixed {
				q.Set("allow_mixed", "true")
			}
			var v registeredVersion
			err = cl.Upload(cmd.Context(), "POST", "/api/v1/datasets/"+url.PathEscape(args[0])+"/versions", q, body, fi.Size(), &v)
			if progress, ok := body.(*uploadProgress); ok {
				progress.Done()
			}
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), v, func(t *tabwriter.Writer) {
				verb := "Registered"
				if !v.Created {
					verb = "Already registered"
				}
				row(t, verb+":", fmt.Sprintf("%s version %d", v.Name, v.Version.Version))
				versionTable(t, &v.Version)
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&format, "format", "", "csv, jsonl or parquet (default: from the file's extension)")
	c.Flags().StringVar(&file, "file-name", "", "the file's name in the dataset (default: PATH's base name)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	c.Flags().BoolVar(&allowMixed, "allow-mixed-types", false, "keep a column that mixes types (words among numbers) as text instead of refusing the file")
	return c
}

func versionTable(t *tabwriter.Writer, v *datasets.Version) {
	row(t, "Digest:", v.Digest)
	row(t, "File:", fmt.Sprintf("%s (%s, %d bytes)", v.File, v.Format, v.Size))
	row(t, "Rows:", v.Rows)
	row(t, "Columns:", len(v.Schema.Fields))
	fmt.Fprintln(t)
	row(t, "COLUMN", "TYPE", "KIND")
	for _, fl := range v.Schema.Fields {
		row(t, fl.Name, fl.Type, fl.Kind)
	}
}

func dataListCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "list [NAME]",
		Short:   "List datasets (the newest version of each), or the versions of one",
		Example: "  mlship data list\n  mlship data list credit -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			path := "/api/v1/datasets"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0]) + "/versions"
			}
			var out struct {
				Datasets []datasets.Version `json:"datasets"`
			}
			if err := cl.Get(cmd.Context(), path, nil, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "NAME", "VERSION", "ROWS", "SIZE", "FORMAT", "CREATED", "DIGEST")
				for _, v := range out.Datasets {
					row(t, v.Name, v.Version, v.Rows, v.Size, v.Format, millis(v.CreatedAt), v.Digest)
				}
			})
		},
	}
	f.add(c)
	return c
}

func dataShowCommand() *cobra.Command {
	var f clientFlags
	var profile bool
	c := &cobra.Command{
		Use:     "show NAME[/VERSION]",
		Short:   "Show a dataset version: digest, file, rows, schema, and with --profile its statistics",
		Example: "  mlship data show credit\n  mlship data show credit/2 --profile -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			name, version, _ := strings.Cut(args[0], "/")
			if version == "" {
				version = "latest"
			}
			path := "/api/v1/datasets/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version)
			var v datasets.Version
			if err := cl.Get(cmd.Context(), path, nil, &v); err != nil {
				return err
			}
			if profile {
				var p any
				if err := cl.Get(cmd.Context(), path+"/profile", nil, &p); err != nil {
					return err
				}
				return f.out.print(cmd.OutOrStdout(), map[string]any{"version": v, "profile": p}, func(t *tabwriter.Writer) {
					versionTable(t, &v)
					row(t, "Profile:", "use -o json to see it")
				})
			}
			return f.out.print(cmd.OutOrStdout(), v, func(t *tabwriter.Writer) {
				row(t, "Dataset:", fmt.Sprintf("%s version %d", v.Name, v.Version))
				versionTable(t, &v)
			})
		},
	}
	f.add(c)
	c.Flags().BoolVar(&profile, "profile", false, "include the statistical profile")
	return c
}
