package api

import (
	"net/http"

	datafile "github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// versionList is the answer of the dataset listings.
type versionList struct {
	Datasets []*datasets.Version `json:"datasets"`
}

func (a *API) listDatasets(w http.ResponseWriter, r *http.Request) (any, error) {
	vs, err := a.datasets.Latest(r.Context())
	return versionList{vs}, err
}

func (a *API) listDatasetVersions(w http.ResponseWriter, r *http.Request) (any, error) {
	vs, err := a.datasets.Versions(r.Context(), r.PathValue("name"))
	if err == nil && len(vs) == 0 {
		return nil, fault.NotFoundf("no dataset named %q", r.PathValue("name"))
	}
	return versionList{vs}, err
}

// registered is the answer of a registration: the version, and whether it is new.
type registered struct {
	*datasets.Version
	Created bool `json:"created"`
}

// registerDataset stores the request body, a file of any size, as a new version.
func (a *API) registerDataset(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	var format datafile.Format
	if f := q.Get("format"); f != "" {
		var err error
		if format, err = datafile.ParseFormat(f); err != nil {
			return nil, fault.Invalidf("unknown format %q: use csv, jsonl or parquet", f)
		}
	}
	v, created, err := a.datasets.Register(r.Context(), r.PathValue("name"), q.Get("file"), format, q.Get("allow_mixed") == "true", httpx.UploadBody(r))
	if err != nil {
		return nil, err
	}
	return registered{v, created}, nil
}

func (a *API) getDatasetVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.datasets.Get(r.Context(), r.PathValue("name"), r.PathValue("version"))
}

func (a *API) getDatasetProfile(w http.ResponseWriter, r *http.Request) (any, error) {
	v, err := a.datasets.Get(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	return a.datasets.Profile(r.Context(), v)
}
