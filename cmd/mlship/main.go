// Command mlship is one binary that carries a trained model from a laptop to a
// monitored production API: an MLflow-compatible tracking server and its clients.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime/sandbox"
	"github.com/mlship/mlship/internal/version"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1 // the command ran and failed
	exitUsage       = 2 // the command line was wrong
	exitNotFound    = 3 // the named model, version, alias or run does not exist
	exitUnavailable = 4 // the server could not be reached or is not ready
	exitGateFailed  = 5 // the version failed its benchmark gate
)

// usageError marks an error in how the command was called.
type usageError struct{ error }

func main() {
	// `mlship sandbox-exec` is the last step of starting a worker in its sandbox (see
	// package sandbox): not a command for people, so not in the help.
	if len(os.Args) > 1 && os.Args[1] == sandbox.HelperCommand {
		os.Exit(sandbox.Main(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	root := rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if _, _, ferr := root.Find(args); ferr != nil { // cobra's "unknown command"
		err = usageError{ferr}
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "mlship:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "Run 'mlship --help' for usage.")
		return exitUsage
	case errors.Is(err, fault.NotFound):
		return exitNotFound
	case errors.Is(err, fault.Unavailable):
		return exitUnavailable
	case errors.Is(err, errGateFailed):
		return exitGateFailed
	}
	return exitFailure
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "mlship",
		Short: "Ship machine learning models: tracking, registry and serving in one binary",
		Long: `mlship is an MLflow-compatible tracking server and model registry in one binary.
Point any MLflow client at it with MLFLOW_TRACKING_URI=http://127.0.0.1:5000.`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(serverCommand(), serveCommand(), deployCommand(), modelsCommand(), dataCommand(), driftCommand(), gateCommand(),
		usersCommand(), tokensCommand(), whoamiCommand(), auditCommand(), migrateCommand(), versionCommand())
	root.AddCommand(loginCommand(), logoutCommand())
	root.AddCommand(permissionsCommand(), teamsCommand())
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every mistake in a command line a usageError (exit 2): wrong
// positional arguments, and an unknown subcommand of a command group, which cobra would
// otherwise answer with the group's help and success.
func markUsageErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
	if args := c.Args; args != nil {
		c.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.RunE = func(c *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", a[0], c.CommandPath())}
			}
			return c.Help()
		}
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print mlship's version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintln(c.OutOrStdout(), version.Version)
		},
	}
}
