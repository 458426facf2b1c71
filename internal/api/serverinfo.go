package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/runtime/sandbox"
	"github.com/mlship/mlship/internal/version"
)

// ServerInfo is the answer of GET /api/v1/server-info: what an operator checks of a
// running server, such as whether model code runs sandboxed.
type ServerInfo struct {
	Version string `json:"version"`
	// MLflowVersion is the MLflow release whose REST API the server answers (GET /version).
	MLflowVersion string      `json:"mlflow_version"`
	Workers       WorkersInfo `json:"workers"`
}

// WorkersInfo describes the processes that run model code.
type WorkersInfo struct {
	// Sandbox is bubblewrap, landlock or none.
	Sandbox string `json:"sandbox"`
	// UnsafeUnsandboxed says workers may run with no sandbox
	// (--unsafe-unsandboxed-workers); without a sandbox and without it, worker
	// runtimes refuse to load models.
	UnsafeUnsandboxed bool `json:"unsafe_unsandboxed"`
	// UID is the user workers run as; absent when they keep the server's user.
	UID *int `json:"uid,omitempty"`
	// Limits are each worker's resource limits; absent without a sandbox.
	Limits *LimitsInfo `json:"limits,omitempty"`
	// Unavailable says why stronger mechanisms are not in force.
	Unavailable string `json:"unavailable,omitempty"`
	// Runtimes are the runtimes a deployment may name: built-in, then declared.
	Runtimes []string `json:"runtimes"`
	// PythonEnvManager is where Python models get their packages: uv (an
	// environment built from each model's requirements) or local (--python).
	PythonEnvManager string `json:"python_env_manager,omitempty"`
}

// LimitsInfo are a worker's resource limits.
type LimitsInfo struct {
	MemoryBytes   int64 `json:"memory_bytes"`
	CPUSeconds    int64 `json:"cpu_seconds"`
	Processes     int   `json:"processes"`
	FileSizeBytes int64 `json:"file_size_bytes"`
	TmpSizeBytes  int64 `json:"tmp_size_bytes,omitempty"`
}

// NewWorkersInfo describes workers run in sb.
func NewWorkersInfo(sb *sandbox.Sandbox, unsandboxed bool, runtimes []string, pythonEnvManager string) WorkersInfo {
	w := WorkersInfo{Sandbox: sb.Name(), UnsafeUnsandboxed: unsandboxed, Unavailable: sb.Unavailable(), Runtimes: runtimes,
		PythonEnvManager: pythonEnvManager}
	if !sb.Confined() {
		return w
	}
	if uid, _ := sb.Owner(); uid >= 0 {
		w.UID = &uid
	}
	l := sb.Limits()
	w.Limits = &LimitsInfo{MemoryBytes: l.Memory, CPUSeconds: int64(l.CPU.Seconds()), Processes: l.Processes,
		FileSizeBytes: l.FileSize}
	if sb.Name() == sandbox.Bubblewrap {
		w.Limits.TmpSizeBytes = l.TempSize
	}
	return w
}

func (a *API) serverInfo(w http.ResponseWriter, r *http.Request) (any, error) {
	info := a.info
	info.Version, info.MLflowVersion = version.Version, version.MLflow
	if info.Workers.Runtimes == nil {
		info.Workers.Runtimes = []string{}
	}
	return info, nil
}
