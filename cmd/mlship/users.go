package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/store"
)

func usersCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "users",
		Short: "Manage the users and service accounts of a server that checks identities (--auth)",
		Long: `Manage users (who sign in with a password) and service accounts (who only hold
tokens) of a server started with --auth. Every command but bootstrap needs an
administrator's credentials: MLSHIP_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD. See docs/auth.md.`,
		Example: `  mlship users bootstrap --data-dir ./mlship-data        # the first administrator, server stopped
  mlship users create ana --password-stdin < ana.txt
  mlship users create ci-bot --service
  mlship tokens create --user ci-bot --scopes read,write,deploy --name ci`,
	}
	c.AddCommand(usersListCommand(), usersCreateCommand(), usersDeleteCommand(), usersPasswordCommand(),
		usersAdminCommand(), usersBootstrapCommand())
	return c
}

type userRow struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Admin       bool   `json:"admin"`
	HasPassword bool   `json:"has_password"`
	CreatedAt   int64  `json:"created_at"`
}

func printUsers(f *clientFlags, w io.Writer, users []userRow, v any) error {
	return f.out.print(w, v, func(t *tabwriter.Writer) {
		row(t, "NAME", "KIND", "ADMIN", "PASSWORD", "CREATED")
		for _, u := range users {
			row(t, u.Name, u.Kind, yesNo(u.Admin), yesNo(u.HasPassword), millis(u.CreatedAt))
		}
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func usersListCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List users and service accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Users []userRow `json:"users"`
			}
			if err := f.get(cmd, "/api/v1/users", nil, &out); err != nil {
				return err
			}
			return printUsers(&f, cmd.OutOrStdout(), out.Users, out)
		},
	}
	f.add(c)
	return c
}

// readPassword reads a new password: the first line of stdin with --password-stdin,
// else twice from the terminal without echo.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usageError{fmt.Errorf("no terminal to ask for the password on: give it on stdin with --password-stdin")}
	}
	fmt.Fprint(cmd.ErrOrStderr(), "password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	fmt.Fprint(cmd.ErrOrStderr(), "again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", fmt.Errorf("the passwords differ")
	}
	return string(p1), nil
}

func usersCreateCommand() *cobra.Command {
	var f clientFlags
	var service, admin, fromStdin bool
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user (asked for a password) or, with --service, a service account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.client(); err != nil {
				return err // before asking for a password
			}
			req := auth.NewUser{Name: args[0], Kind: auth.KindUser, Admin: admin}
			var err error
			if service {
				req.Kind = auth.KindService
			} else if req.Password, err = readPassword(cmd, fromStdin); err != nil {
				return err
			}
			var u userRow
			if err := f.send(cmd, "POST", "/api/v1/users", req, &u); err != nil {
				return err
			}
			return printUsers(&f, cmd.OutOrStdout(), []userRow{u}, u)
		},
	}
	f.add(c)
	c.Flags().BoolVar(&service, "service", false, "a service account: no password, it signs in with tokens only")
	c.Flags().BoolVar(&admin, "admin", false, "make the user an administrator")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func usersDeleteCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and revoke its tokens (the last administrator stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.done(cmd, "DELETE", "/api/v1/users/"+url.PathEscape(args[0]), nil, "deleted user %s", args[0])
		},
	}
	f.add(c)
	return c
}

func usersPasswordCommand() *cobra.Command {
	var f clientFlags
	var fromStdin bool
	c := &cobra.Command{
		Use:   "password NAME",
		Short: "Set a user's password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.client(); err != nil {
				return err // before asking for a password
			}
			p, err := readPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			return f.done(cmd, "PATCH", "/api/v1/users/"+url.PathEscape(args[0]), auth.UserUpdate{Password: &p}, "password of %s changed", args[0])
		},
	}
	f.add(c)
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func usersAdminCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "admin NAME true|false",
		Short: "Make a user an administrator, or no longer one",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, err := strconv.ParseBool(args[1])
			if err != nil {
				return usageError{fmt.Errorf("say true or false, not %q", args[1])}
			}
			var u userRow
			if err := f.send(cmd, "PATCH", "/api/v1/users/"+url.PathEscape(args[0]), auth.UserUpdate{Admin: &admin}, &u); err != nil {
				return err
			}
			return printUsers(&f, cmd.OutOrStdout(), []userRow{u}, u)
		},
	}
	f.add(c)
	return c
}

func usersBootstrapCommand() *cobra.Command {
	cfg := config.DefaultServer()
	var fromStdin bool
	c := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the first administrator, admin, in a server's data directory (with the server stopped)",
		Long: `Create the administrator admin in the database of a server that has no user yet.
It opens the database directly, so the server must be stopped; alternatively start the
server once with MLSHIP_ADMIN_PASSWORD set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Resolve(); err != nil {
				return usageError{err}
			}
			p, err := readPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			return bootstrapAdmin(cmd.Context(), cmd.OutOrStdout(), cfg, p)
		},
	}
	c.Flags().StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the server's data directory")
	c.Flags().StringVar(&cfg.BackendStoreURI, "backend-store-uri", "", "the server's metadata database (default sqlite:///<data-dir>/mlship.db)")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return c
}

func bootstrapAdmin(ctx context.Context, w io.Writer, cfg config.Server, password string) error {
	db, err := store.Open(ctx, cfg.BackendStoreURI, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("%w (is the server running? stop it first, or start it with MLSHIP_ADMIN_PASSWORD set)", err)
	}
	defer db.Close()
	created, err := auth.New(db, nil, auth.Options{}).Bootstrap(ctx, password)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("the server has users already: an administrator creates more with mlship users create")
	}
	fmt.Fprintf(w, "created the administrator admin in %s\n", cmp.Or(store.Redact(cfg.BackendStoreURI), cfg.DataDir))
	return nil
}
