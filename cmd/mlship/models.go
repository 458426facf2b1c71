package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/client"
)

// Tags that carry a registered model's ownership.
const (
	tagOwner   = "mlship.owner"
	tagContact = "mlship.contact"
)

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type alias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type modelVersion struct {
	Name                 string   `json:"name"`
	Version              string   `json:"version"`
	CreationTimestamp    int64    `json:"creation_timestamp"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp"`
	UserID               string   `json:"user_id,omitempty"`
	CurrentStage         string   `json:"current_stage"`
	Description          string   `json:"description,omitempty"`
	Source               string   `json:"source"`
	RunID                string   `json:"run_id,omitempty"`
	Status               string   `json:"status"`
	Tags                 []kv     `json:"tags,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`
}

type registeredModel struct {
	Name                 string         `json:"name"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
	Description          string         `json:"description,omitempty"`
	UserID               string         `json:"user_id,omitempty"`
	LatestVersions       []modelVersion `json:"latest_versions,omitempty"`
	Tags                 []kv           `json:"tags,omitempty"`
	Aliases              []alias        `json:"aliases,omitempty"`
}

func (m *registeredModel) tag(key string) string {
	for _, t := range m.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func (m *registeredModel) latest() string {
	best := ""
	for _, v := range m.LatestVersions {
		if len(v.Version) > len(best) || (len(v.Version) == len(best) && v.Version > best) {
			best = v.Version
		}
	}
	return best
}

func (m *registeredModel) aliasList() string {
	s := make([]string, len(m.Aliases))
	for i, a := range m.Aliases {
		s[i] = a.Alias + "=v" + a.Version
	}
	return strings.Join(s, ",")
}

const registry = "/api/2.0/mlflow/"

// clientFlags are the flags of every command that talks to a server.
type clientFlags struct {
	server string
	out    output
}

func (f *clientFlags) add(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.server, "server", "", "mlship server URL (default $MLSHIP_SERVER, else $MLFLOW_TRACKING_URI, else "+client.DefaultServer+")")
	f.out.addFlag(c)
}

func (f *clientFlags) client() (*client.Client, error) {
	if err := f.out.check(); err != nil {
		return nil, err
	}
	s := f.server
	if s == "" {
		s = client.ServerFromEnv()
	}
	c, err := client.New(s)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// send makes one request to the server the flags name: method on path with body (nil:
// none), the answer decoded into out (nil: dropped).
func (f *clientFlags) send(cmd *cobra.Command, method, path string, body, out any) error {
	cl, err := f.client()
	if err != nil {
		return err
	}
	return cl.Send(cmd.Context(), method, path, body, out)
}

// get reads path, with the query q (nil: none), into out.
func (f *clientFlags) get(cmd *cobra.Command, path string, q url.Values, out any) error {
	cl, err := f.client()
	if err != nil {
		return err
	}
	return cl.Get(cmd.Context(), path, q, out)
}

// done sends a request whose answer shows nothing, then says what it did.
func (f *clientFlags) done(cmd *cobra.Command, method, path string, body any, format string, a ...any) error {
	if err := f.send(cmd, method, path, body, nil); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), format+"\n", a...)
	return nil
}

func modelsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "models",
		Short: "Inspect and manage registered models on an mlship server",
		Long: `Inspect and manage registered models: which versions exist, which version each
alias points at, and who owns a model.`,
	}
	c.AddCommand(modelsListCommand(), modelsShowCommand(), modelsVersionsCommand(),
		modelsAliasCommand(), modelsOwnerCommand(), modelsLineageCommand(), modelsReproduceCommand(),
		modelsVerifyCommand(), modelsDownloadCommand(), modelsGCCommand())
	return c
}

func modelsListCommand() *cobra.Command {
	var f clientFlags
	var filter string
	c := &cobra.Command{
		Use:     "list",
		Short:   "List registered models",
		Example: "  mlship models list\n  mlship models list --filter \"name LIKE 'fraud%'\" -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			models, err := listModels(cmd.Context(), cl, filter)
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), models, func(t *tabwriter.Writer) {
				row(t, "NAME", "LATEST", "ALIASES", "OWNER", "CONTACT", "UPDATED")
				for _, m := range models {
					row(t, m.Name, m.latest(), m.aliasList(), m.tag(tagOwner), m.tag(tagContact), millis(m.LastUpdatedTimestamp))
				}
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&filter, "filter", "", "MLflow search filter, e.g. \"tags.`mlship.owner` = 'ana'\"")
	return c
}

// listModels pages through registered-models/search.
func listModels(ctx context.Context, cl *client.Client, filter string) ([]registeredModel, error) {
	var all []registeredModel
	token := ""
	for {
		q := url.Values{"max_results": {"1000"}}
		if filter != "" {
			q.Set("filter", filter)
		}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			RegisteredModels []registeredModel `json:"registered_models"`
			NextPageToken    string            `json:"next_page_token"`
		}
		if err := cl.Get(ctx, registry+"registered-models/search", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.RegisteredModels...)
		if token = page.NextPageToken; token == "" {
			return all, nil
		}
	}
}

func getModel(ctx context.Context, cl *client.Client, name string) (*registeredModel, error) {
	var out struct {
		RegisteredModel registeredModel `json:"registered_model"`
	}
	if err := cl.Get(ctx, registry+"registered-models/get", url.Values{"name": {name}}, &out); err != nil {
		return nil, err
	}
	return &out.RegisteredModel, nil
}

func modelsShowCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a registered model: owner, contact, aliases and latest versions",
		Example: "  mlship models show fraud\n  mlship models show fraud -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			m, err := getModel(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), m, func(t *tabwriter.Writer) {
				row(t, "Name:", m.Name)
				row(t, "Owner:", m.tag(tagOwner))
				row(t, "Contact:", m.tag(tagContact))
				row(t, "Description:", m.Description)
				row(t, "Aliases:", m.aliasList())
				row(t, "Latest version:", m.latest())
				row(t, "Created:", millis(m.CreationTimestamp))
				row(t, "Updated:", millis(m.LastUpdatedTimestamp))
				for _, tg := range m.Tags {
					if tg.Key != tagOwner && tg.Key != tagContact {
						row(t, "Tag "+tg.Key+":", tg.Value)
					}
				}
			})
		},
	}
	f.add(c)
	return c
}

func modelsVersionsCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List the versions of a registered model, newest first",
		Example: "  mlship models versions fraud\n  mlship models versions fraud -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if _, err := getModel(cmd.Context(), cl, args[0]); err != nil {
				return err
			}
			vs, err := listVersions(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), vs, func(t *tabwriter.Writer) {
				row(t, "VERSION", "ALIASES", "STAGE", "STATUS", "RUN", "CREATED", "SOURCE")
				for _, v := range vs {
					row(t, v.Version, strings.Join(v.Aliases, ","), v.CurrentStage, v.Status, v.RunID, millis(v.CreationTimestamp), v.Source)
				}
			})
		},
	}
	f.add(c)
	return c
}

func listVersions(ctx context.Context, cl *client.Client, name string) ([]modelVersion, error) {
	var all []modelVersion
	token := ""
	for {
		q := url.Values{"filter": {"name = '" + strings.ReplaceAll(name, "'", "''") + "'"},
			"max_results": {"10000"}, "order_by": {"version_number DESC"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			ModelVersions []modelVersion `json:"model_versions"`
			NextPageToken string         `json:"next_page_token"`
		}
		if err := cl.Get(ctx, registry+"model-versions/search", q, &page); err != nil {
			return nil, err
		}
		all = append(all, page.ModelVersions...)
		if token = page.NextPageToken; token == "" {
			return all, nil
		}
	}
}

func modelsAliasCommand() *cobra.Command {
	var f clientFlags
	var del bool
	var override string
	c := &cobra.Command{
		Use:   "alias NAME [ALIAS [VERSION]]",
		Short: "List a model's aliases, show one, point one at a version, or delete one",
		Example: `  mlship models alias fraud                  # list aliases
  mlship models alias fraud champion         # show the version champion points at
  mlship models alias fraud champion 3       # point champion at version 3
  mlship models alias fraud champion --delete
  mlship models alias fraud production 4 --override "hotfix for incident 123"`,
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			ctx, name := cmd.Context(), args[0]
			switch {
			case del && len(args) == 2:
				if err := cl.Send(ctx, "DELETE", registry+"registered-models/alias", map[string]string{"name": name, "alias": args[1]}, nil); err != nil {
					return err
				}
				return f.out.print(cmd.OutOrStdout(), aliasChange{Name: name, Alias: args[1], Deleted: true}, func(t *tabwriter.Writer) {
					fmt.Fprintf(t, "deleted alias %s of %s\n", args[1], name)
				})
			case del:
				return usageError{fmt.Errorf("--delete takes NAME and ALIAS")}
			case len(args) == 3 && override != "":
				version := strings.TrimPrefix(args[2], "v")
				body := map[string]string{"version": version, "override": override}
				if !cl.SignedIn() { // a server that checks identities records the signed-in one, and no other
					body["actor"] = currentUser()
				}
				if err := cl.Send(ctx, "PUT", "/api/v1/models/"+url.PathEscape(name)+"/aliases/"+url.PathEscape(args[1]), body, nil); err != nil {
					return err
				}
				return printAliasSet(cmd.OutOrStdout(), &f.out, aliasChange{Name: name, Alias: args[1], Version: version, Override: override})
			case override != "":
				return usageError{fmt.Errorf("--override takes NAME, ALIAS and VERSION")}
			case len(args) == 3:
				version := strings.TrimPrefix(args[2], "v")
				if err := cl.Send(ctx, "POST", registry+"registered-models/alias",
					map[string]string{"name": name, "alias": args[1], "version": version}, nil); err != nil {
					return err
				}
				return printAliasSet(cmd.OutOrStdout(), &f.out, aliasChange{Name: name, Alias: args[1], Version: version})
			case len(args) == 2:
				var out struct {
					ModelVersion modelVersion `json:"model_version"`
				}
				if err := cl.Get(ctx, registry+"registered-models/alias", url.Values{"name": {name}, "alias": {args[1]}}, &out); err != nil {
					return err
				}
				v := out.ModelVersion
				return f.out.print(cmd.OutOrStdout(), v, func(t *tabwriter.Writer) {
					row(t, "ALIAS", "VERSION", "STAGE", "RUN", "SOURCE")
					row(t, args[1], v.Version, v.CurrentStage, v.RunID, v.Source)
				})
			}
			m, err := getModel(ctx, cl, name)
			if err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), m.Aliases, func(t *tabwriter.Writer) {
				row(t, "ALIAS", "VERSION")
				for _, a := range m.Aliases {
					row(t, a.Alias, a.Version)
				}
			})
		},
	}
	f.add(c)
	c.Flags().BoolVar(&del, "delete", false, "delete the alias")
	c.Flags().StringVar(&override, "override", "", "move a protected alias to a version that has not passed its benchmark gate, for this reason (kept in the audit trail)")
	return c
}

// aliasChange is what `mlship models alias` did, for its output.
type aliasChange struct {
	Name     string `json:"name"`
	Alias    string `json:"alias"`
	Version  string `json:"version,omitempty"`
	Override string `json:"override,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
}

func printAliasSet(w io.Writer, out *output, a aliasChange) error {
	return out.print(w, a, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "%s@%s -> version %s", a.Name, a.Alias, a.Version)
		if a.Override != "" {
			fmt.Fprintf(t, " (override: %s)", a.Override)
		}
		fmt.Fprintln(t)
	})
}

func modelsOwnerCommand() *cobra.Command {
	var f clientFlags
	var contact string
	c := &cobra.Command{
		Use:   "owner NAME OWNER",
		Short: "Set who owns a registered model, and whom to ask about it",
		Long: `Set who owns a registered model, and whom to ask about a bug in it. They are kept as
the MLflow tags mlship.owner and mlship.contact, so MLflow clients can set and read them too.`,
		Example: "  mlship models owner fraud ana@example.com --contact '#fraud-ml on chat'",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			set := func(k, v string) error {
				return cl.Send(ctx, "POST", registry+"registered-models/set-tag", map[string]string{"name": args[0], "key": k, "value": v}, nil)
			}
			if err := set(tagOwner, args[1]); err != nil {
				return err
			}
			if contact != "" {
				return set(tagContact, contact)
			}
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&contact, "contact", "", "whom to ask about the model (default: unchanged)")
	return c
}

func modelsGCCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "gc",
		Short: "Remove stored model files that no model version references",
		Long: `Remove stored model files and manifests that no model version references any more,
such as those of deleted versions. Files younger than an hour are kept, so versions being
created are never robbed of their files.`,
		Example: "  mlship models gc\n  mlship models gc -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Removed    int   `json:"removed"`
				FreedBytes int64 `json:"freed_bytes"`
			}
			if err := cl.Send(cmd.Context(), "POST", "/api/v1/content/gc", struct{}{}, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "Removed:", out.Removed)
				row(t, "Freed bytes:", out.FreedBytes)
			})
		},
	}
	f.add(c)
	return c
}

// currentUser names who runs the command, for audit trails: $USER, else the OS's idea.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
