package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// newHTTPClient returns the one client shared by every request, with an idle keep-alive
// connection per concurrent client. Proxies from the environment are ignored.
func newHTTPClient(concurrency int) *http.Client {
	conns := 2 * concurrency
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	// No overall timeout: a 1 GiB transfer may take long; requests carry a context.
	return &http.Client{Transport: transport}
}

// statusError is a response other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// api speaks MLflow's REST API to one server.
type api struct {
	base   string
	client *http.Client
}

const artifactsRoute = "/api/2.0/mlflow-artifacts/artifacts"

// do sends a request and decodes a 200 JSON answer into out (or discards it).
func (a *api) do(ctx context.Context, method, path string, body io.Reader, size int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(snippet))}
	}
	if out != nil {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if _, cerr := io.Copy(io.Discard, resp.Body); err == nil {
		err = cerr
	}
	return err
}

func (a *api) post(ctx context.Context, endpoint string, body, out any) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if err := a.do(ctx, http.MethodPost, "/api/2.0/mlflow/"+endpoint, bytes.NewReader(buf), int64(len(buf)), out); err != nil {
		return fmt.Errorf("%s: %w", endpoint, err)
	}
	return nil
}

func (a *api) get(ctx context.Context, endpoint string, query url.Values, out any) error {
	if err := a.do(ctx, http.MethodGet, "/api/2.0/mlflow/"+endpoint+"?"+query.Encode(), nil, -1, out); err != nil {
		return fmt.Errorf("%s: %w", endpoint, err)
	}
	return nil
}

// createRun creates a run in the default experiment and returns its id and artifact URI.
func (a *api) createRun(ctx context.Context) (id, artifactURI string, err error) {
	var out struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	body := map[string]any{"experiment_id": "0", "start_time": time.Now().UnixMilli()}
	if err := a.post(ctx, "runs/create", body, &out); err != nil {
		return "", "", err
	}
	if out.Run.Info.RunID == "" || out.Run.Info.ArtifactURI == "" {
		return "", "", fmt.Errorf("runs/create: answer has no run_id or artifact_uri")
	}
	return out.Run.Info.RunID, out.Run.Info.ArtifactURI, nil
}

func (a *api) createRegisteredModel(ctx context.Context, name string) error {
	return a.post(ctx, "registered-models/create", map[string]any{"name": name}, nil)
}

// createVersion registers a model version and returns its version number.
func (a *api) createVersion(ctx context.Context, name, source, runID string) (string, error) {
	var out struct {
		ModelVersion struct {
			Version string `json:"version"`
		} `json:"model_version"`
	}
	body := map[string]any{"name": name, "source": source, "run_id": runID}
	if err := a.post(ctx, "model-versions/create", body, &out); err != nil {
		return "", err
	}
	if out.ModelVersion.Version == "" {
		return "", fmt.Errorf("model-versions/create: answer has no model_version.version")
	}
	return out.ModelVersion.Version, nil
}

// searchVersions returns every version number of a registered model, page by page.
func (a *api) searchVersions(ctx context.Context, name string) ([]string, error) {
	var versions []string
	token := ""
	for {
		q := url.Values{"filter": {"name='" + name + "'"}, "max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var out struct {
			ModelVersions []struct {
				Version string `json:"version"`
			} `json:"model_versions"`
			NextPageToken string `json:"next_page_token"`
		}
		if err := a.get(ctx, "model-versions/search", q, &out); err != nil {
			return nil, err
		}
		for _, v := range out.ModelVersions {
			versions = append(versions, v.Version)
		}
		if out.NextPageToken == "" {
			return versions, nil
		}
		token = out.NextPageToken
	}
}

func (a *api) downloadURI(ctx context.Context, name, version string) (string, error) {
	var out struct {
		ArtifactURI string `json:"artifact_uri"`
	}
	err := a.get(ctx, "model-versions/get-download-uri", url.Values{"name": {name}, "version": {version}}, &out)
	if err == nil && out.ArtifactURI == "" {
		err = fmt.Errorf("get-download-uri: answer has no artifact_uri")
	}
	return out.ArtifactURI, err
}

// proxyPath turns an mlflow-artifacts: URI (or an http URL through the artifact proxy)
// into the path under the proxy route, without leading or trailing slashes.
func proxyPath(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	p := u.Path
	switch u.Scheme {
	case "mlflow-artifacts":
	case "http", "https":
		var ok bool
		if _, p, ok = strings.Cut(p, artifactsRoute); !ok {
			return "", fmt.Errorf("%q is not served by the artifact proxy", uri)
		}
	default:
		return "", fmt.Errorf("%q is not an mlflow-artifacts: URI", uri)
	}
	return strings.Trim(p, "/"), nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// upload PUTs size bytes from body to the artifact proxy at path.
func (a *api) upload(ctx context.Context, path string, body io.Reader, size int64) error {
	if err := a.do(ctx, http.MethodPut, artifactsRoute+"/"+escapePath(path), body, size, nil); err != nil {
		return fmt.Errorf("PUT %s: %w", path, err)
	}
	return nil
}

type artifactFile struct {
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
}

// listFiles lists the files under path recursively, as paths relative to it.
func (a *api) listFiles(ctx context.Context, path string) ([]string, error) {
	var out struct {
		Files []artifactFile `json:"files"`
	}
	q := url.Values{"path": {path}}
	if err := a.do(ctx, http.MethodGet, artifactsRoute+"?"+q.Encode(), nil, -1, &out); err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	var files []string
	for _, f := range out.Files {
		if !f.IsDir {
			files = append(files, f.Path)
			continue
		}
		sub, err := a.listFiles(ctx, path+"/"+f.Path)
		if err != nil {
			return nil, err
		}
		for _, s := range sub {
			files = append(files, f.Path+"/"+s)
		}
	}
	return files, nil
}

// download GETs a file from the artifact proxy and streams it into w.
func (a *api) download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+artifactsRoute+"/"+escapePath(path), nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, fmt.Errorf("GET %s: %w", path, &statusError{resp.StatusCode, strings.TrimSpace(string(snippet))})
	}
	return io.Copy(w, resp.Body)
}
