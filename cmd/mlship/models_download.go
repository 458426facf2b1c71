package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/fault"
)

func modelsDownloadCommand() *cobra.Command {
	var f clientFlags
	var dest string
	var quiet bool
	c := &cobra.Command{
		Use:   "download NAME@ALIAS|NAME/VERSION",
		Short: "Download the files of a model version, checked against their hashes",
		Long: `Download the files of a model version from the server's content store into a
directory. Every file is checked against the SHA-256 the version recorded when it was
created; a file that does not match is not kept, and the command fails.`,
		Example: "  mlship models download fraud@champion --dest ./fraud\n  mlship models download fraud/3 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, l, err := f.lineage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if dest == "" {
				dest = l.Model.Name + "-v" + l.Version.Version
			}
			var bar io.Writer = io.Discard
			if !quiet && f.out.format == "table" && onTerminal(cmd.ErrOrStderr()) {
				bar = progressbar.NewOptions64(totalSize(l.Files), progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish(),
					progressbar.OptionSetDescription("downloading "+l.Model.Name+" v"+l.Version.Version))
			}
			if err := downloadVersion(cmd.Context(), cl, l, dest, bar); err != nil {
				return err
			}
			out := struct {
				Dest  string     `json:"dest"`
				Files []api.File `json:"files"`
			}{dest, l.Files}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "Downloaded:", fmt.Sprintf("%d files, %d bytes, to %s", len(l.Files), totalSize(l.Files), dest))
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&dest, "dest", "", "directory to write the files into (default NAME-vVERSION)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return c
}

func totalSize(files []api.File) int64 {
	var n int64
	for _, f := range files {
		n += f.Size
	}
	return n
}

// downloadVersion writes every file of a version under dest, each through a temporary
// file that is renamed into place only once its hash matches.
func downloadVersion(ctx context.Context, cl *client.Client, l *api.Lineage, dest string, progress io.Writer) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, file := range l.Files {
		if !filepath.IsLocal(file.Path) {
			return fault.New(fault.Internal, "the server named a file outside the version: %q", file.Path)
		}
		if err := downloadFile(ctx, cl, root, l, file, progress); err != nil {
			return err
		}
	}
	return nil
}

func downloadFile(ctx context.Context, cl *client.Client, root *os.Root, l *api.Lineage, file api.File, progress io.Writer) error {
	if dir := filepath.Dir(file.Path); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := file.Path + ".mlship-part"
	w, err := root.Create(tmp)
	if err != nil {
		return err
	}
	defer root.Remove(tmp)
	h := sha256.New()
	segs := strings.Split(file.Path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	_, err = cl.Download(ctx, versionPath(l.Model.Name, l.Version.Version, "files/"+strings.Join(segs, "/")), io.MultiWriter(w, h, progress))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", file.Path, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != file.Digest {
		return fault.New(fault.Internal, "%s arrived with digest %s, but the version recorded %s: not kept", file.Path, got, file.Digest)
	}
	return root.Rename(tmp, file.Path)
}
