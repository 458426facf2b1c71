package mlflowauth

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// MLflow 3's workspaces partition a server's objects; its client names the active one
// in the X-MLFLOW-WORKSPACE header (mlflow.set_workspace, MLFLOW_WORKSPACE). mlship has
// one workspace, MLflow's "default", which holds every object and every role (team).
// A request naming another is refused, never answered from the default one: that would
// touch objects the client did not mean.

const (
	workspaceHeader  = "X-MLFLOW-WORKSPACE"
	defaultWorkspace = "default"
)

// checkWorkspace refuses a workspace other than the default one.
func checkWorkspace(name string) error {
	if strings.TrimSpace(name) == defaultWorkspace {
		return nil
	}
	return fault.Invalidf("workspace %q is not supported: mlship has only the %q workspace, which holds every object and role (a team's access is given by grants to the team, not by a workspace); send no %s header, or %q",
		name, defaultWorkspace, workspaceHeader, defaultWorkspace)
}

// Workspaces refuses, before any route runs, a request whose X-MLFLOW-WORKSPACE header
// names a workspace other than the default one, with 400 INVALID_PARAMETER_VALUE. As in
// MLflow, the server-info route answers whatever the header says.
func Workspaces(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws := strings.TrimSpace(r.Header.Get(workspaceHeader))
		if ws != "" && !strings.HasSuffix(strings.TrimRight(r.URL.Path, "/"), "/mlflow/server-info") {
			if err := checkWorkspace(ws); err != nil {
				httpx.WriteError(w, r, logger, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// workspace is MLflow's Workspace entity.
type workspace struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

var theWorkspace = workspace{Name: defaultWorkspace, Description: "mlship's one workspace: every object and role"}

func (a *API) listWorkspaces(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string][]workspace{"workspaces": {theWorkspace}}, nil
}

func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request) (any, error) {
	if name := r.PathValue("name"); name != defaultWorkspace {
		return nil, fault.NotFoundf("Workspace '%s' not found: mlship has only the %q workspace", name, defaultWorkspace)
	}
	return map[string]workspace{"workspace": theWorkspace}, nil
}
