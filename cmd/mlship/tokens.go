package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/auth"
)

func tokensCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke API tokens",
		Long: `API tokens sign clients in without a password: the MLflow client with
MLFLOW_TRACKING_TOKEN, mlship with MLSHIP_TOKEN, curl and tritonclient with the header
"Authorization: Bearer TOKEN". A token has scopes (read, write, deploy, admin; never more
than its creator's), an expiry (90 days unless --expires-in says otherwise), and is shown
once: the server keeps only its hash.`,
		Example: `  export MLSHIP_TOKEN=$(mlship tokens create --name laptop --scopes read,write -o json | jq -r .token)
  mlship tokens create --user ci-bot --scopes read,write,deploy --expires-in 720h
  mlship tokens list
  mlship tokens revoke 4`,
	}
	c.AddCommand(tokensCreateCommand(), tokensListCommand(), tokensRevokeCommand())
	return c
}

type tokenRow struct {
	ID        int64    `json:"id"`
	User      string   `json:"user"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt int64    `json:"created_at"`
	ExpiresAt *int64   `json:"expires_at,omitempty"`
	RevokedAt *int64   `json:"revoked_at,omitempty"`
	Token     string   `json:"token,omitempty"`
}

func (t tokenRow) state() string {
	switch {
	case t.RevokedAt != nil:
		return "revoked " + millis(*t.RevokedAt)
	case t.ExpiresAt != nil:
		return "expires " + millis(*t.ExpiresAt)
	}
	return "never expires"
}

func printTokens(f *clientFlags, w io.Writer, tokens []tokenRow, v any) error {
	return f.out.print(w, v, func(t *tabwriter.Writer) {
		row(t, "ID", "USER", "NAME", "SCOPES", "CREATED", "STATE")
		for _, k := range tokens {
			row(t, strconv.FormatInt(k.ID, 10), k.User, k.Name, strings.Join(k.Scopes, ","), millis(k.CreatedAt), k.state())
		}
	})
}

func tokensCreateCommand() *cobra.Command {
	var f clientFlags
	var req auth.NewToken
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it (once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var t tokenRow
			if err := f.send(cmd, "POST", "/api/v1/tokens", req, &t); err != nil {
				return err
			}
			if f.out.format == "json" {
				return f.out.print(cmd.OutOrStdout(), t, nil)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", t.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %d of %s (%s; %s): shown once, keep it now\n", t.ID, t.User, strings.Join(t.Scopes, ","), t.state())
			return nil
		},
	}
	f.add(c)
	c.Flags().StringVar(&req.Name, "name", "token", "what the token is for")
	c.Flags().StringVar(&req.Scopes, "scopes", "read", "read, write, deploy, admin, comma-separated")
	c.Flags().StringVar(&req.ExpiresIn, "expires-in", "", "lifetime, e.g. 720h, or never (default 90 days)")
	c.Flags().StringVar(&req.User, "user", "", "the user or service account to hold it (an administrator's choice; default you)")
	return c
}

func tokensListCommand() *cobra.Command {
	var f clientFlags
	var user string
	c := &cobra.Command{
		Use:   "list",
		Short: "List your tokens (an administrator: --user NAME, or --user '*' for all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Tokens []tokenRow `json:"tokens"`
			}
			q := url.Values{}
			if user != "" {
				q.Set("user", user)
			}
			if err := f.get(cmd, "/api/v1/tokens", q, &out); err != nil {
				return err
			}
			return printTokens(&f, cmd.OutOrStdout(), out.Tokens, out)
		},
	}
	f.add(c)
	c.Flags().StringVar(&user, "user", "", "whose tokens (administrators)")
	return c
}

func tokensRevokeCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: refused from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return usageError{fmt.Errorf("token id %q is not a number (mlship tokens list shows them)", args[0])}
			}
			return f.done(cmd, "DELETE", "/api/v1/tokens/"+args[0], nil, "revoked token %s", args[0])
		},
	}
	f.add(c)
	return c
}

func whoamiCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server sees you as, with which scopes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var me struct {
				Auth    bool     `json:"auth"`
				Name    string   `json:"name"`
				Kind    string   `json:"kind"`
				Admin   bool     `json:"admin"`
				Scopes  []string `json:"scopes"`
				TokenID int64    `json:"token_id"`
			}
			if err := f.get(cmd, "/api/v1/whoami", nil, &me); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), me, func(t *tabwriter.Writer) {
				if !me.Auth {
					row(t, "AUTH", "off: the server does not check identities (start it with --auth)")
					return
				}
				row(t, "NAME", me.Name)
				row(t, "KIND", me.Kind)
				row(t, "ADMIN", yesNo(me.Admin))
				row(t, "SCOPES", strings.Join(me.Scopes, ","))
				if me.TokenID != 0 {
					row(t, "TOKEN", strconv.FormatInt(me.TokenID, 10))
				}
			})
		},
	}
	f.add(c)
	return c
}
