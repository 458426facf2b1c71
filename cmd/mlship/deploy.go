package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/client"
	"github.com/mlship/mlship/internal/serving"
)

func deployCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Manage the deployments an mlship server hosts",
		Long: `Manage deployments: a deployment serves a model over the Open Inference Protocol v2,
MLflow's /invocations and KServe v1, and follows a registry alias
(models:/fraud@production): when the alias moves, the new version loads beside the old
one and traffic switches once it is ready.`,
		Example: `  mlship deploy create fraud models:/fraud@production
  mlship deploy create fraud models:/fraud@production --canary models:/fraud@challenger --canary-weight 0.1
  mlship deploy create demo models:/demo@production --public
  mlship deploy list
  mlship deploy show fraud -o json
  mlship deploy delete fraud`,
	}
	c.AddCommand(deployCreateCommand(), deployUpdateCommand(), deployListCommand(), deployShowCommand(), deployDeleteCommand())
	return c
}

// specFlags are the flags that build a deployment spec.
type specFlags struct {
	runtime, command        string
	workers, maxBatch, maxQ int
	maxDelay, timeout       time.Duration
	canary, shadow          string
	canaryWeight, shadowPct float64
	sampleRate              float64
	wait                    time.Duration
	keepFailed              bool
	driftWindow             time.Duration
	driftMinRows            int
	driftReference, webhook string
	public                  bool
}

func (s *specFlags) add(c *cobra.Command) {
	s.addRuntime(c, "worker processes per model version (default: CPUs, at most 8)")
	f := c.Flags()
	// A deployment cannot carry a command line; the flag is kept only to say so.
	f.StringVar(&s.command, "command", "", "refused: the server's operator declares worker commands (mlship server --runtimes-config)")
	f.MarkHidden("command")
	f.StringVar(&s.canary, "canary", "", "a second model that takes --canary-weight of the traffic")
	f.Float64Var(&s.canaryWeight, "canary-weight", 0.1, "share of requests for the canary, 0 to 1")
	f.StringVar(&s.shadow, "shadow", "", "a candidate model that receives a copy of --shadow-share of the requests")
	f.Float64Var(&s.shadowPct, "shadow-share", 1, "share of requests mirrored to the shadow, 0 to 1")
	f.Float64Var(&s.sampleRate, "payload-sample-rate", serving.DefaultSampleRate, "share of requests kept in the payload log, 0 to 1")
	f.DurationVar(&s.wait, "wait", 0, "wait up to this long for the deployment to be ready")
	f.DurationVar(&s.driftWindow, "drift-window", 0, "monitor drift: compare the traffic with the training data every window (e.g. 1m)")
	f.IntVar(&s.driftMinRows, "drift-min-rows", 0, "rows a window needs before it is compared (default 100)")
	f.StringVar(&s.driftReference, "drift-reference", "", "dataset NAME/VERSION to compare with (default: the served model's training data)")
	f.StringVar(&s.webhook, "drift-webhook", "", "URL that receives a POST when drift is found")
	f.BoolVar(&s.public, "public", false, "answer the deployment's inference routes without credentials, even with --auth (default: a credential with READ on the deployment); changing it needs MANAGE on the deployment")
}

// addRuntime adds the flags of how a model version is loaded and fed, which
// `mlship serve` and `mlship deploy` share.
func (s *specFlags) addRuntime(c *cobra.Command, workersHelp string) {
	f := c.Flags()
	f.StringVar(&s.runtime, "runtime", "auto", "runtime: auto, python, r, onnx, or a runtime declared in the server's --runtimes-config")
	f.IntVar(&s.workers, "workers", 0, workersHelp)
	f.IntVar(&s.maxBatch, "max-batch-size", 0, "most rows per batch; 1 turns batching off (default 32)")
	f.DurationVar(&s.maxDelay, "max-batch-delay", 0, "how long a batch may wait for more requests (default 0: take what is queued)")
	f.IntVar(&s.maxQ, "max-queue", 0, "requests that may wait before new ones get 429 (default 1024)")
	f.DurationVar(&s.timeout, "timeout", 0, "deadline of one request (default 30s)")
}

func (s *specFlags) spec(name, model string) serving.Spec {
	spec := serving.Spec{Name: name, Model: model, Runtime: s.runtime, Workers: s.workers,
		Batching:   serving.Batching{MaxBatchSize: s.maxBatch, MaxDelay: serving.Duration(s.maxDelay), MaxQueue: s.maxQ},
		Timeout:    serving.Duration(s.timeout),
		PayloadLog: &serving.PayloadLog{SampleRate: s.sampleRate}}
	if s.public {
		spec.Inference = serving.InferencePublic
	}
	if s.canary != "" {
		spec.Canary = &serving.Canary{Model: s.canary, Weight: s.canaryWeight}
	}
	if s.shadow != "" {
		spec.Shadow = &serving.Shadow{Model: s.shadow, Share: s.shadowPct}
	}
	if s.driftWindow > 0 || s.driftMinRows > 0 || s.driftReference != "" || s.webhook != "" {
		spec.Monitoring = &serving.Monitoring{Window: serving.Duration(s.driftWindow), MinRows: s.driftMinRows,
			Reference: s.driftReference, Webhook: s.webhook}
	}
	return spec
}

// errDeployCommand refuses --command on a server's deployment.
var errDeployCommand = usageError{errors.New("--command is refused: a deployment cannot carry a command line. " +
	"The server's operator declares worker programs as runtimes (mlship server --runtimes-config FILE), " +
	"and --runtime NAME names one; mlship serve, run by the operator, still takes --command")}

// deploySpec is the spec of a server's deployment.
func (s *specFlags) deploySpec(name, model string) (serving.Spec, error) {
	if s.command != "" {
		return serving.Spec{}, errDeployCommand
	}
	return s.spec(name, model), nil
}

func deployCreateCommand() *cobra.Command {
	var f clientFlags
	var s specFlags
	c := &cobra.Command{
		Use:   "create NAME MODEL_URI",
		Short: "Create a deployment of a model",
		Long: `Create a deployment named NAME serving MODEL_URI: models:/NAME@ALIAS (followed as the
alias moves), models:/NAME/VERSION or runs:/RUN_ID/PATH. The model loads in the
background; --wait waits for it. A deployment whose model fails to load while --wait
waits is deleted again (--keep-failed keeps it to look at), and creating a deployment
over one that failed and serves nothing replaces it.`,
		Example: "  mlship deploy create fraud models:/fraud@production --wait 2m",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := s.deploySpec(args[0], args[1])
			if err != nil {
				return err
			}
			err = f.sendSpec(cmd, "POST", "/api/v1/deployments", spec, s.wait)
			var lf loadFailed
			if errors.As(err, &lf) && !s.keepFailed {
				return f.deleteFailed(cmd, spec.Name, err)
			}
			return err
		},
	}
	f.add(c)
	s.add(c)
	c.Flags().BoolVar(&s.keepFailed, "keep-failed", false, "with --wait, keep a deployment whose model failed to load instead of deleting it")
	return c
}

// deleteFailed deletes a deployment that was just created and failed to load, and
// says so beside the load error.
func (f *clientFlags) deleteFailed(cmd *cobra.Command, name string, loadErr error) error {
	cl, err := f.client()
	if err != nil {
		return err
	}
	if err := cl.Send(cmd.Context(), "DELETE", "/api/v1/deployments/"+url.PathEscape(name), nil, nil); err != nil {
		return fmt.Errorf("%w; deleting it failed too: %v", loadErr, err)
	}
	return fmt.Errorf("%w; the deployment was deleted (--keep-failed keeps it)", loadErr)
}

func deployUpdateCommand() *cobra.Command {
	var f clientFlags
	var s specFlags
	c := &cobra.Command{
		Use:   "update NAME MODEL_URI",
		Short: "Replace a deployment's spec",
		Long: `Replace the spec of deployment NAME. What changed loads beside what serves, and
traffic moves once it is ready; a version that fails to load leaves the old one serving.
The spec is replaced whole: a public deployment updated without --public needs
credentials again.`,
		Example: "  mlship deploy update fraud models:/fraud@production --workers 4",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := s.deploySpec(args[0], args[1])
			if err != nil {
				return err
			}
			return f.sendSpec(cmd, "PUT", "/api/v1/deployments/"+url.PathEscape(args[0]), spec, s.wait)
		},
	}
	f.add(c)
	s.add(c)
	return c
}

func (f *clientFlags) sendSpec(cmd *cobra.Command, method, path string, spec serving.Spec, wait time.Duration) error {
	cl, err := f.client()
	if err != nil {
		return err
	}
	var v serving.View
	if err := cl.Send(cmd.Context(), method, path, spec, &v); err != nil {
		return err
	}
	if wait > 0 {
		if v, err = waitReady(cmd.Context(), cl, spec.Name, wait); err != nil {
			return err
		}
	}
	return f.out.print(cmd.OutOrStdout(), v, func(t *tabwriter.Writer) { deploymentTable(t, v) })
}

// loadFailed is the error of a deployment whose model failed to load.
type loadFailed struct{ error }

func (e loadFailed) Unwrap() error { return e.error }

// waitReady polls a deployment until its primary model serves, its load fails, or the
// time is up.
func waitReady(ctx context.Context, cl *client.Client, name string, wait time.Duration) (serving.View, error) {
	deadline := time.Now().Add(wait)
	for {
		var v serving.View
		if err := cl.Get(ctx, "/api/v1/deployments/"+url.PathEscape(name), nil, &v); err != nil {
			return v, err
		}
		switch {
		case v.Status.State == serving.StateReady:
			return v, nil
		case v.Status.State == serving.StateFailed:
			return v, loadFailed{fmt.Errorf("deployment %s failed to load its model: %s", name, v.Status.Error)}
		case time.Now().After(deadline):
			return v, fmt.Errorf("deployment %s is still %s after %s; see `mlship deploy show %s`", name, v.Status.State, wait, name)
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func deployListCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "list",
		Short:   "List deployments and what each serves",
		Example: "  mlship deploy list\n  mlship deploy list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var out struct {
				Deployments []serving.View `json:"deployments"`
			}
			if err := cl.Get(cmd.Context(), "/api/v1/deployments", nil, &out); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "NAME", "STATE", "INFERENCE", "MODEL", "SERVING", "ERROR")
				for _, d := range out.Deployments {
					serving := ""
					for _, m := range d.Status.Models {
						if m.Version != "" {
							serving += fmt.Sprintf("%s:%s/v%s ", m.Role, m.Model, m.Version)
						}
					}
					row(t, d.Name, d.Status.State, d.Spec.Inference, d.Spec.Model, strings.TrimSpace(serving), d.Status.Error)
				}
			})
		},
	}
	f.add(c)
	return c
}

func deployShowCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a deployment's spec, status and endpoints",
		Example: "  mlship deploy show fraud\n  mlship deploy show fraud -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var v serving.View
			if err := cl.Get(cmd.Context(), "/api/v1/deployments/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), v, func(t *tabwriter.Writer) { deploymentTable(t, v) })
		},
	}
	f.add(c)
	return c
}

func deploymentTable(t *tabwriter.Writer, v serving.View) {
	row(t, "Name:", v.Name)
	row(t, "Model:", v.Spec.Model)
	row(t, "Inference:", v.Spec.Inference)
	state := v.Status.State
	if len(v.Status.Models) > 0 && v.Status.Models[0].Loading != "" && state == serving.StateLoading {
		state += ": " + v.Status.Models[0].Loading
	}
	row(t, "State:", state)
	if v.Status.Error != "" {
		row(t, "Error:", v.Status.Error)
	}
	for _, m := range v.Status.Models {
		serving := "-"
		if m.Version != "" {
			serving = fmt.Sprintf("%s version %s (%s runtime)", m.Model, m.Version, m.Runtime)
		}
		row(t, strings.ToUpper(m.Role[:1])+m.Role[1:]+":", m.Ref+" -> "+serving)
		if m.Environment != "" {
			row(t, "", "environment: "+m.Environment)
		}
		if m.Loading != "" && m.Version != "" {
			row(t, "", "loading another version: "+m.Loading)
		}
		if m.Error != "" {
			row(t, "", "last load failed: "+m.Error)
		}
	}
	for _, p := range []string{"v2", "invocations", "v1"} {
		row(t, "Endpoint:", v.Endpoints[p])
	}
}

func deployDeleteCommand() *cobra.Command {
	var f clientFlags
	c := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Stop a deployment and unload its models",
		Example: "  mlship deploy delete fraud",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if err := cl.Send(cmd.Context(), "DELETE", "/api/v1/deployments/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			return f.out.print(cmd.OutOrStdout(), map[string]string{"deleted": args[0]}, func(t *tabwriter.Writer) {
				row(t, "Deleted:", args[0])
			})
		},
	}
	f.add(c)
	return c
}
