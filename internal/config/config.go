// Package config holds mlship's typed configuration: defaults, the rules that derive
// one setting from another, validation, and the MLSHIP_* environment variables that
// stand in for flags.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/netguard"
)

// Server configures `mlship server`.
type Server struct {
	Host    string
	Port    int
	DataDir string
	// BackendStoreURI is the metadata database; default sqlite:///<DataDir>/mlship.db.
	BackendStoreURI string
	// ArtifactsDestination is where served artifacts are stored; default <DataDir>/artifacts.
	ArtifactsDestination string
	// ContentDestination is where immutable copies of model versions are kept, by
	// content hash; default <DataDir>/content, or beside the artifacts in their bucket
	// (<ArtifactsDestination>/.mlship-content) when those are on S3.
	ContentDestination string
	// S3Endpoint, S3Region and S3PathStyle are the settings of an s3:// ArtifactsDestination
	// (docs/storage.md); they become the URI's endpoint, region and path_style parameters
	// unless it has them. Credentials come from the AWS SDK's standard chain.
	S3Endpoint  string
	S3Region    string
	S3PathStyle bool
	// S3PresignedURLs makes MLflow's multipart uploads (mpu/create) and downloads
	// (mlflow-artifacts/presigned) use presigned URLs of the bucket, so that large
	// artifacts go to it and come from it directly.
	S3PresignedURLs bool
	// DefaultArtifactRoot is the root of new experiments' artifact locations.
	DefaultArtifactRoot string
	// ServeArtifacts enables the artifact proxy.
	ServeArtifacts bool
	// ArtifactSchemes are the URI schemes, besides mlflow-artifacts, allowed as
	// experiments' artifact locations (artifacts that clients write elsewhere).
	ArtifactSchemes []string
	// MaxRequestBody caps JSON request bodies, in bytes.
	MaxRequestBody int64
	LogLevel       string
	LogFormat      string
	// ServingDir holds the model versions that deployments serve, unpacked from the
	// content store; default <DataDir>/serving.
	ServingDir string
	// Python and Rscript run the embedded workers of the python and r runtimes;
	// empty means $MLSHIP_PYTHON or python3, $MLSHIP_RSCRIPT or Rscript.
	Python, Rscript string
	// EnvManager is how the python runtime gets each model's packages: uv (an
	// environment built from the model's requirements) or local (the Python
	// interpreter as it is). Empty means local when Python is given, else uv when uv
	// is found, else local.
	EnvManager string
	// UV is the uv program; empty means uv on the PATH.
	UV string
	// EnvsDir holds the models' Python environments and uv's cache; default <DataDir>/envs.
	EnvsDir string
	// ONNXRuntimeLib is ONNX Runtime's shared library, for ONNX models with operators
	// the native engine lacks; empty means none.
	ONNXRuntimeLib string
	// JobsDB is the SQLite file of the background job queue (benchmark
	// evaluations); default <DataDir>/jobs.db.
	JobsDB string
	// AllowedOutbound lists the non-public destinations (CIDR prefixes, addresses, or
	// address:port) the server may connect to for a client, e.g. drift webhooks;
	// default none: loopback, private and link-local addresses are refused.
	AllowedOutbound []string
	// SQLStatementTimeout is the deadline of every read statement a request issues.
	SQLStatementTimeout time.Duration
	// AllowedHosts are the Host headers requests may carry (httpx.ParseHosts); empty
	// means the loopback names and the bind address (and any IP address when the
	// server binds every interface).
	AllowedHosts []string
	// CORSAllowedOrigins are the origins a browser may send state-changing requests
	// from, answered with CORS headers; default none.
	CORSAllowedOrigins []string
	// MinBodyRate is the slowest average rate, in bytes per second, at which a request
	// body may arrive after MinBodyRateGrace; 0 turns the check off.
	MinBodyRate      int64
	MinBodyRateGrace time.Duration
	// RuntimesConfig is a YAML file of the worker runtimes the operator declares
	// (serving.LoadRuntimes); empty means none: deployments use the built-in ones.
	RuntimesConfig string
	// Worker is the sandbox, limits and environment of the processes that run
	// model code.
	Worker Worker
	// Auth turns identities on: every request but the public ones (probes, the
	// server's version) needs a user's password or an API token, and every route
	// checks the access it declares.
	Auth bool
	// InsecureNoAuth lets the server listen beyond loopback without Auth.
	InsecureNoAuth bool
	// DefaultPermission is what a user may do with an experiment, registered model,
	// dataset or deployment it holds no grant on: READ (MLflow's default), USE, EDIT,
	// MANAGE or NO_PERMISSIONS.
	DefaultPermission string
	// AuditRetention is how long audit records are kept before they are pruned; 0
	// keeps them forever.
	AuditRetention time.Duration
	// MetricsTokenFile, if set, holds the token /metrics requires (Authorization:
	// Bearer), besides an administrator's credentials; empty: /metrics needs what the
	// other reads do.
	MetricsTokenFile string
	// OIDC is single sign-on for browsers (with Auth).
	OIDC OIDC
	// AdminPassword, from MLSHIP_ADMIN_PASSWORD, is given to the administrator admin
	// that the first start with Auth creates. Never a flag: flags show in ps.
	AdminPassword string
}

// DefaultServer returns the embedded default: loopback, SQLite and ./mlship-data.
func DefaultServer() Server {
	return Server{
		Host:                "127.0.0.1",
		Port:                5000,
		DataDir:             "./mlship-data",
		DefaultArtifactRoot: "mlflow-artifacts:/",
		ServeArtifacts:      true,
		MaxRequestBody:      32 << 20,
		LogLevel:            "info",
		LogFormat:           "text",
		AllowedOutbound:     nil,
		SQLStatementTimeout: 30 * time.Second,
		MinBodyRate:         1024,
		MinBodyRateGrace:    10 * time.Second,
		Worker:              DefaultWorker(),
		AuditRetention:      365 * 24 * time.Hour,
		OIDC:                DefaultOIDC(),
	}
}

// Resolve fills the settings derived from others and validates the result.
func (c *Server) Resolve() error {
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("--port %d is out of range 1-65535", c.Port)
	}
	if net.ParseIP(c.Host) == nil && c.Host != "localhost" && c.Host != "" {
		if _, err := net.LookupHost(c.Host); err != nil {
			return fmt.Errorf("--host %q is neither an IP address nor a resolvable name", c.Host)
		}
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = dir
	if c.BackendStoreURI == "" {
		c.BackendStoreURI = "sqlite://" + filepath.Join(dir, "mlship.db")
	}
	if c.ArtifactsDestination == "" {
		c.ArtifactsDestination = filepath.Join(dir, "artifacts")
	}
	if err := c.applyS3Settings(); err != nil {
		return err
	}
	if c.ContentDestination == "" {
		c.ContentDestination = filepath.Join(dir, "content")
		if u, ok := s3URI(c.ArtifactsDestination); ok {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/.mlship-content"
			c.ContentDestination = u.String()
		}
	}
	if c.ServingDir == "" {
		c.ServingDir = filepath.Join(dir, "serving")
	}
	if c.JobsDB == "" {
		c.JobsDB = filepath.Join(dir, "jobs.db")
	}
	if c.EnvsDir == "" {
		c.EnvsDir = filepath.Join(dir, "envs")
	}
	switch c.EnvManager {
	case "", "uv", "local":
	default:
		return fmt.Errorf("--env-manager must be uv or local, got %q", c.EnvManager)
	}
	if c.MaxRequestBody < 1<<20 {
		return fmt.Errorf("--max-request-body must be at least 1 MiB, got %d bytes", c.MaxRequestBody)
	}
	if _, err := netguard.Parse(c.AllowedOutbound); err != nil {
		return fmt.Errorf("--allowed-outbound: %w", err)
	}
	if _, err := httpx.ParseHosts(c.AllowedHosts); err != nil {
		return err
	}
	if _, err := httpx.ParseOrigins(c.CORSAllowedOrigins); err != nil {
		return err
	}
	if c.MinBodyRate < 0 || c.MinBodyRateGrace < time.Second {
		return fmt.Errorf("--min-body-rate must be 0 (off) or more bytes per second and --min-body-rate-grace at least 1s, got %d and %s", c.MinBodyRate, c.MinBodyRateGrace)
	}
	if !c.Auth && !c.InsecureNoAuth && !IsLoopback(c.Host) {
		return fmt.Errorf("--host %s listens beyond this machine with no authentication: anyone who reaches it could change or delete everything; "+
			"add --auth (and create users: docs/auth.md), or --insecure-no-auth if something in front of the server authenticates every request", c.Host)
	}
	if err := c.Worker.Resolve(); err != nil {
		return err
	}
	if err := c.OIDC.Resolve(c.Auth); err != nil {
		return err
	}
	if c.SQLStatementTimeout < 100*time.Millisecond || c.SQLStatementTimeout > 24*time.Hour {
		return fmt.Errorf("--sql-statement-timeout must be between 100ms and 24h, got %s", c.SQLStatementTimeout)
	}
	if c.AuditRetention != 0 && c.AuditRetention < time.Hour {
		return fmt.Errorf("--audit-retention must be 0 (keep forever) or at least 1h, got %s", c.AuditRetention)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	switch strings.ToUpper(c.DefaultPermission) {
	case "", "READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS":
	default:
		return fmt.Errorf("--default-permission must be READ, USE, EDIT, MANAGE or NO_PERMISSIONS, got %q", c.DefaultPermission)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	return nil
}

// Addr is the address to listen on.
// IsLoopback reports whether host names only this machine: a loopback address or
// localhost.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Server) Addr() string { return net.JoinHostPort(c.Host, fmt.Sprint(c.Port)) }

// Level parses LogLevel.
func (c *Server) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	return l, nil
}

// ApplyEnv sets every flag not given on the command line from the environment variable
// PREFIX_FLAG_NAME (MLSHIP_DATA_DIR for --data-dir), so that flags and environment
// name the same settings. Variables that match no flag of this command are left alone:
// other commands read them.
func ApplyEnv(flags *pflag.FlagSet, prefix string) error {
	known := map[string]*pflag.Flag{}
	flags.VisitAll(func(f *pflag.Flag) {
		known[prefix+"_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))] = f
	})
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		f, ok := known[name]
		if !ok || f.Changed {
			continue
		}
		if err := flags.Set(f.Name, value); err != nil {
			return fmt.Errorf("environment variable %s=%q: %w", name, value, err)
		}
	}
	return nil
}

// s3URI parses an s3:// storage URI.
func s3URI(dest string) (*url.URL, bool) {
	u, err := url.Parse(dest)
	if err != nil || !strings.EqualFold(u.Scheme, "s3") {
		return nil, false
	}
	return u, true
}

// applyS3Settings folds --s3-endpoint, --s3-region and --s3-path-style into an s3://
// artifacts destination, whose own parameters win. The endpoint is the operator's alone:
// nothing a client sends chooses where the server connects.
func (c *Server) applyS3Settings() error {
	u, ok := s3URI(c.ArtifactsDestination)
	if !ok {
		if c.S3Endpoint != "" || c.S3Region != "" || c.S3PathStyle || c.S3PresignedURLs {
			return fmt.Errorf("--s3-endpoint, --s3-region, --s3-path-style and --s3-presigned-urls need an s3:// --artifacts-destination")
		}
		return nil
	}
	q := u.Query()
	set := func(k, v string) {
		if v != "" && !q.Has(k) {
			q.Set(k, v)
		}
	}
	set("endpoint", c.S3Endpoint)
	set("region", c.S3Region)
	if c.S3PathStyle {
		set("path_style", "true")
	}
	if c.S3PresignedURLs {
		set("presigned_urls", "true")
	}
	u.RawQuery = q.Encode()
	c.ArtifactsDestination = u.String()
	return nil
}
