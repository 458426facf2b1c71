package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/server"
)

func serverCommand() *cobra.Command {
	cfg := config.DefaultServer()
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the mlship server: MLflow-compatible tracking and registry, deployments",
		Long: `Run the mlship server.

With no flags it keeps everything in ./mlship-data: metadata in SQLite
(mlship.db) and artifacts in a folder (artifacts/). Every flag can also be set
with an MLSHIP_* environment variable: --data-dir is MLSHIP_DATA_DIR.`,
		Example: `  mlship server
  mlship server --host 0.0.0.0 --port 8080 --data-dir /var/lib/mlship
  mlship server --backend-store-uri sqlite:///srv/meta.db --artifacts-destination /srv/artifacts`,
		Args: cobra.NoArgs,
		PreRunE: func(c *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(c.Flags(), "MLSHIP"); err != nil {
				return usageError{err}
			}
			cfg.OIDC.ClientSecret = os.Getenv("MLSHIP_OIDC_CLIENT_SECRET")
			if err := cfg.Resolve(); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			logger := newLogger(&cfg)
			cfg.AdminPassword = os.Getenv("MLSHIP_ADMIN_PASSWORD")
			srv, err := server.New(c.Context(), cfg, logger)
			if err != nil {
				return err
			}
			defer srv.Close()
			return srv.Serve(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Host, "host", cfg.Host, "address to listen on (loopback by default; 0.0.0.0 for every interface)")
	f.IntVarP(&cfg.Port, "port", "p", cfg.Port, "port to listen on")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the embedded database and artifacts")
	f.StringVar(&cfg.BackendStoreURI, "backend-store-uri", "", "metadata database URI (default sqlite:///<data-dir>/mlship.db)")
	f.StringVar(&cfg.ArtifactsDestination, "artifacts-destination", "", "where served artifacts are stored: a directory, a file:// URI or s3://BUCKET/PREFIX (credentials from the AWS SDK's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance roles) (default <data-dir>/artifacts)")
	f.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "URL of an S3-compatible server for an s3:// --artifacts-destination, e.g. http://minio:9000 (default $MLFLOW_S3_ENDPOINT_URL, else $AWS_ENDPOINT_URL_S3, else AWS)")
	f.StringVar(&cfg.S3Region, "s3-region", "", "region requests to an s3:// --artifacts-destination are signed for (default $AWS_REGION or the shared config, else us-east-1)")
	f.BoolVar(&cfg.S3PathStyle, "s3-path-style", false, "address the bucket in the URL path (http://host/bucket/key), as most S3-compatible servers need; on by default with --s3-endpoint or $MLFLOW_S3_ENDPOINT_URL")
	f.BoolVar(&cfg.S3PresignedURLs, "s3-presigned-urls", false, "MLflow clients move large artifacts straight to and from the bucket with presigned URLs (multipart uploads' parts, chunked downloads) instead of through the server: the S3 endpoint must be reachable by the clients")
	f.StringVar(&cfg.JobsDB, "jobs-db", "", "SQLite file of the background job queue (benchmark evaluations) (default <data-dir>/jobs.db)")
	f.StringVar(&cfg.DefaultArtifactRoot, "default-artifact-root", cfg.DefaultArtifactRoot, "artifact root of new experiments")
	f.BoolVar(&cfg.ServeArtifacts, "serve-artifacts", cfg.ServeArtifacts, "serve the artifact proxy (--serve-artifacts=false to turn it off)")
	f.StringSliceVar(&cfg.ArtifactSchemes, "artifact-schemes", nil, "URI schemes, besides mlflow-artifacts, allowed as experiment artifact locations (e.g. s3,gs)")
	f.StringSliceVar(&cfg.AllowedOutbound, "allowed-outbound", cfg.AllowedOutbound, "non-public destinations the server may connect to for clients (drift and registry webhooks): CIDR prefixes, addresses or address:port, e.g. 10.0.0.0/8,127.0.0.1:9000 (default none: loopback, private and link-local addresses are refused)")
	f.DurationVar(&cfg.SQLStatementTimeout, "sql-statement-timeout", cfg.SQLStatementTimeout, "deadline of each database read a request makes (searches); a read that takes longer is cancelled and answered 504")
	f.StringSliceVar(&cfg.AllowedHosts, "allowed-hosts", nil, allowedHostsHelp)
	f.StringSliceVar(&cfg.CORSAllowedOrigins, "cors-allowed-origins", nil, corsHelp)
	f.Int64Var(&cfg.MinBodyRate, "min-body-rate", cfg.MinBodyRate, minBodyRateHelp)
	f.StringVar(&cfg.DefaultPermission, "default-permission", "READ", "with --auth, what a user may do with an experiment, registered model, dataset or deployment it holds no grant on: READ, USE, EDIT, MANAGE or NO_PERMISSIONS")
	f.Var((*days)(&cfg.AuditRetention), "audit-retention", "how long audit records are kept, e.g. 365d or 720h; 0 keeps them forever")
	f.DurationVar(&cfg.MinBodyRateGrace, "min-body-rate-grace", cfg.MinBodyRateGrace, "how long a request body may take before --min-body-rate applies")
	f.Int64Var(&cfg.MaxRequestBody, "max-request-body", cfg.MaxRequestBody, "largest JSON request body accepted, in bytes (artifact uploads are not limited)")
	f.StringVar(&cfg.Python, "python", "", "Python interpreter of the python runtime (default $MLSHIP_PYTHON, else python3); with --env-manager uv, the one environments are made from when the model's Python version is not found")
	f.StringVar(&cfg.EnvManager, "env-manager", "", "how Python models get their packages: uv (an environment built from each model's python_env.yaml and requirements.txt, cached in <data-dir>/envs) or local (the --python interpreter as it is) (default: local if --python is given, else uv if uv is found, else local)")
	f.StringVar(&cfg.UV, "uv", "", "the uv program of --env-manager uv (default: uv on the PATH)")
	f.StringVar(&cfg.Rscript, "rscript", "", "Rscript of the r runtime (default $MLSHIP_RSCRIPT, else Rscript)")
	f.StringVar(&cfg.ONNXRuntimeLib, "onnxruntime-lib", "", onnxRuntimeLibHelp)
	f.StringVar(&cfg.RuntimesConfig, "runtimes-config", "", "YAML file of the worker runtimes deployments may name: runtimes: NAME: {command: [...], read_only: [...], env: {...}}; a deployment never carries a command line itself")
	cfg.Worker.AddFlags(f)
	f.BoolVar(&cfg.Auth, "auth", cfg.Auth, "require a user's password or an API token on every request but the probes, and check each route's access (docs/auth.md); the first start creates the user admin with the password in MLSHIP_ADMIN_PASSWORD")
	f.StringVar(&cfg.MetricsTokenFile, "metrics-token-file", "", "file holding the token /metrics requires as Authorization: Bearer (Prometheus: authorization.credentials_file); administrators' credentials are accepted too")
	cfg.OIDC.AddFlags(f)
	f.BoolVar(&cfg.InsecureNoAuth, "insecure-no-auth", cfg.InsecureNoAuth, "listen beyond loopback without --auth: only when something in front of the server authenticates every request")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	return c
}

func newLogger(cfg *config.Server) *slog.Logger {
	level, _ := cfg.Level()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
