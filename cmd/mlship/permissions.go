package main

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func permissionsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "permissions",
		Short: "Grant, revoke and list permissions on experiments, models, datasets and deployments",
		Long: `With --auth, what a user may do with an object is the highest level granted to it or to
any of its teams (READ, USE, EDIT or MANAGE), never less than the server's
--default-permission, which also applies without any grant. DENY, granted to the user or
to one of its teams, refuses all access and wins over every other grant. To take a grant
away, revoke it (NO_PERMISSIONS is the absence of a grant and cannot be granted).
KIND is experiment (by id), registered_model, dataset or deployment (by name); OBJECT "*"
is every object of the kind (administrators only). Granting needs MANAGE on the object;
its creator has it.`,
		Example: `  mlship permissions grant experiment 3 --user ana --level edit
  mlship permissions grant registered_model fraud --team risk --level read
  mlship permissions grant experiment 3 --user bob --level deny
  mlship permissions grant dataset '*' --team risk --level read
  mlship permissions list registered_model fraud
  mlship permissions list --user ana
  mlship permissions revoke experiment 3 --user ana`,
	}
	c.AddCommand(permissionsGrantCommand(), permissionsRevokeCommand(), permissionsListCommand())
	return c
}

type grantBody struct {
	Kind   string `json:"kind"`
	Object string `json:"object"`
	User   string `json:"user,omitempty"`
	Team   string `json:"team,omitempty"`
	Level  string `json:"level,omitempty"`
}

func permissionsGrantCommand() *cobra.Command {
	var f clientFlags
	var b grantBody
	c := &cobra.Command{
		Use:   "grant KIND OBJECT (--user NAME | --team NAME) --level LEVEL",
		Short: "Give a user or a team a level on an object, replacing what it had",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b.Kind, b.Object = args[0], args[1]
			if err := onePrincipal(b); err != nil {
				return err
			}
			return f.done(cmd, "POST", "/api/v1/permissions", b, "granted %s on %s %s to %s", strings.ToUpper(b.Level), b.Kind, b.Object, principal(b))
		},
	}
	f.add(c)
	c.Flags().StringVar(&b.User, "user", "", "the user or service account")
	c.Flags().StringVar(&b.Team, "team", "", "the team")
	c.Flags().StringVar(&b.Level, "level", "", "READ, USE, EDIT, MANAGE or DENY")
	c.MarkFlagRequired("level")
	return c
}

func permissionsRevokeCommand() *cobra.Command {
	var f clientFlags
	var b grantBody
	c := &cobra.Command{
		Use:   "revoke KIND OBJECT (--user NAME | --team NAME)",
		Short: "Remove a user's or a team's grant on an object",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b.Kind, b.Object = args[0], args[1]
			if err := onePrincipal(b); err != nil {
				return err
			}
			return f.done(cmd, "DELETE", "/api/v1/permissions", b, "revoked the grant on %s %s of %s", b.Kind, b.Object, principal(b))
		},
	}
	f.add(c)
	c.Flags().StringVar(&b.User, "user", "", "the user or service account")
	c.Flags().StringVar(&b.Team, "team", "", "the team")
	return c
}

func permissionsListCommand() *cobra.Command {
	var f clientFlags
	var user, team string
	c := &cobra.Command{
		Use:   "list [KIND OBJECT] [--user NAME | --team NAME]",
		Short: "List the grants on an object, or those a user or a team holds",
		Args:  cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			switch {
			case len(args) == 2 && user == "" && team == "":
				q.Set("kind", args[0])
				q.Set("object", args[1])
			case len(args) == 0 && (user == "") != (team == ""):
				q.Set("user", user)
				q.Set("team", team)
			default:
				return usageError{fmt.Errorf("give KIND OBJECT, or one of --user and --team")}
			}
			var out struct {
				Grants []grantBody `json:"grants"`
			}
			if err := f.get(cmd, "/api/v1/permissions", q, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "KIND", "OBJECT", "PRINCIPAL", "LEVEL")
				for _, g := range out.Grants {
					row(t, g.Kind, g.Object, principal(g), g.Level)
				}
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&user, "user", "", "the grants this user holds")
	c.Flags().StringVar(&team, "team", "", "the grants this team holds")
	return c
}

func onePrincipal(b grantBody) error {
	if (b.User == "") == (b.Team == "") {
		return usageError{fmt.Errorf("give exactly one of --user and --team")}
	}
	return nil
}

func principal(b grantBody) string {
	if b.Team != "" {
		return "team " + b.Team
	}
	return "user " + b.User
}

func teamsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "teams",
		Short: "Create teams and manage their members (administrators)",
		Long: `A team is a group of users: what it is granted (mlship permissions grant --team),
each member may do. A team is also an MLflow 3 role, by the id teams list shows: MLflow's
role API (mlflow.server.get_app_client("basic-auth")) creates, assigns and grants the same
teams.`,
		Example: `  mlship teams create risk
  mlship teams add risk ana
  mlship teams remove risk ana
  mlship teams list
  mlship teams delete risk`,
	}
	send := func(use, short string, nargs int, method string, path func(args []string) string, body func(args []string) any) *cobra.Command {
		var f clientFlags
		cc := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(nargs),
			RunE: func(cmd *cobra.Command, args []string) error {
				var out any
				if err := f.send(cmd, method, path(args), body(args), &out); err != nil {
					return err
				}
				return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) { row(t, "ok") })
			},
		}
		f.add(cc)
		return cc
	}
	empty := func([]string) any { return map[string]any{} }
	c.AddCommand(
		send("create NAME", "Create a team", 1, "POST", func([]string) string { return "/api/v1/teams" },
			func(a []string) any { return map[string]string{"name": a[0]} }),
		send("delete NAME", "Delete a team and its grants", 1, "DELETE", func(a []string) string { return "/api/v1/teams/" + url.PathEscape(a[0]) }, empty),
		send("add TEAM USER", "Put a user in a team", 2, "PUT", func(a []string) string {
			return "/api/v1/teams/" + url.PathEscape(a[0]) + "/members/" + url.PathEscape(a[1])
		}, empty),
		send("remove TEAM USER", "Take a user out of a team", 2, "DELETE", func(a []string) string {
			return "/api/v1/teams/" + url.PathEscape(a[0]) + "/members/" + url.PathEscape(a[1])
		}, empty),
		teamsListCommand(),
	)
	return c
}

func teamsListCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use: "list", Short: "List the teams and their members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Teams []struct {
					ID      int64    `json:"id"`
					Name    string   `json:"name"`
					Members []string `json:"members"`
				} `json:"teams"`
			}
			if err := f.get(cmd, "/api/v1/teams", nil, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "TEAM", "ROLE ID", "MEMBERS")
				for _, tm := range out.Teams {
					row(t, tm.Name, fmt.Sprint(tm.ID), strings.Join(tm.Members, ","))
				}
			})
		},
	}
	f.add(c)
	return c
}
