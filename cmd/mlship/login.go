package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/fault"
)

func loginCommand() *cobra.Command {
	var f clientFlags
	var user string
	var fromStdin bool
	c := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a server: keep a token for this machine",
		Long: `Sign in with a user's name and password: mlship creates a token with the user's
scopes and the default lifetime (90 days), named "mlship login on HOST", and keeps it in
credentials.json in your configuration directory (readable by you alone), by server.
Commands then send it to that server whenever MLSHIP_TOKEN, MLFLOW_TRACKING_TOKEN and
MLFLOW_TRACKING_USERNAME are unset. mlship logout revokes it.`,
		Example: `  mlship login --server https://mlship.example.com
  mlship login --user ana --password-stdin < ana.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return login(cmd, &f, user, fromStdin)
		},
	}
	f.add(c)
	c.Flags().StringVar(&user, "user", "", "the user's name (asked for when not given)")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin (needs --user)")
	return c
}

// signedInAs is /api/v1/whoami's answer.
type signedInAs struct {
	Auth   bool     `json:"auth"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

func login(cmd *cobra.Command, f *clientFlags, user string, fromStdin bool) error {
	if err := f.out.check(); err != nil {
		return err
	}
	server := cmpServer(f.server)
	user, password, err := askCredentials(cmd, user, fromStdin)
	if err != nil {
		return err
	}
	cl, err := client.NewSignedIn(server, client.BasicAuthorization(user, password))
	if err != nil {
		return usageError{err}
	}
	var me signedInAs
	if err := cl.Get(cmd.Context(), "/api/v1/whoami", nil, &me); err != nil {
		return err
	}
	if !me.Auth {
		return fault.Invalidf("%s does not check identities (it was started without --auth): there is nothing to sign in to", cl.Base())
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "this machine"
	}
	var t tokenRow
	req := map[string]string{"name": "mlship login on " + host, "scopes": strings.Join(me.Scopes, ",")}
	if err := cl.Send(cmd.Context(), "POST", "/api/v1/tokens", req, &t); err != nil {
		return err
	}
	if err := client.StoreCredential(cl.Base(), client.Credential{User: me.Name, Token: t.Token, TokenID: t.ID, ExpiresAt: t.ExpiresAt}); err != nil {
		return fmt.Errorf("keep the token: %w (it is token %d; revoke it with mlship tokens revoke %d)", err, t.ID, t.ID)
	}
	path, _ := client.CredentialsPath()
	fmt.Fprintf(cmd.OutOrStdout(), "signed in to %s as %s (token %d, %s; %s), kept in %s\n",
		cl.Base(), me.Name, t.ID, strings.Join(t.Scopes, ","), t.state(), path)
	return nil
}

// cmpServer is the server a command names, or the one the environment names.
func cmpServer(flag string) string {
	if flag != "" {
		return flag
	}
	return client.ServerFromEnv()
}

// askCredentials returns the user's name and password: the name from --user or asked
// for, the password from stdin's first line or asked for without echo.
func askCredentials(cmd *cobra.Command, user string, fromStdin bool) (string, string, error) {
	if fromStdin {
		if user == "" {
			return "", "", usageError{errors.New("--password-stdin needs --user: stdin holds the password")}
		}
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", "", err
		}
		return user, strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", "", usageError{errors.New("no terminal to ask for the password on: give --user and the password on stdin with --password-stdin")}
	}
	if user == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "user: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return "", "", err
		}
		user = strings.TrimSpace(line)
	}
	fmt.Fprint(cmd.ErrOrStderr(), "password: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	return user, string(p), err
}

func logoutCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the token mlship login kept for a server, and forget it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.check(); err != nil {
				return err
			}
			server := cmpServer(f.server)
			cred, err := client.StoredCredential(server)
			if err != nil {
				return err
			}
			if cred == nil {
				return fault.Invalidf("not signed in to %s (mlship login keeps a token for it)", server)
			}
			cl, err := client.NewSignedIn(server, "Bearer "+cred.Token)
			if err != nil {
				return usageError{err}
			}
			err = cl.Send(cmd.Context(), "DELETE", "/api/v1/tokens/"+strconv.FormatInt(cred.TokenID, 10), nil, nil)
			// A token already revoked or expired is refused: there is nothing left to revoke.
			if err != nil && fault.KindOf(err) != fault.Unauthenticated {
				return fmt.Errorf("revoke token %d: %w (it is still kept; run mlship logout again)", cred.TokenID, err)
			}
			if err := client.ForgetCredential(server); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed out of %s: token %d revoked and forgotten\n", cl.Base(), cred.TokenID)
			return nil
		},
	}
	f.add(c)
	return c
}
