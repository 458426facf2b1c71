package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/auth"
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
	if err != nil {
		return nil, err
	}
	visible, err := a.auth.Visible(r.Context(), auth.Dataset)
	if err != nil {
		return nil, err
	}
	out := vs[:0]
	for _, v := range vs { // the list is not paged: filtering it leaves no page short
		if visible.Allows(v.Name) {
			out = append(out, v)
		}
	}
	return versionList{out}, nil
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
	name := r.PathValue("name")
	existing, err := a.datasets.Versions(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 { // a new dataset is its creator's; an existing one needs EDIT
		if err := a.auth.Can(r.Context(), auth.Dataset, name, auth.LevelEdit); err != nil {
			return nil, err
		}
	}
	v, created, err := a.datasets.Register(r.Context(), name, q.Get("file"), format, q.Get("allow_mixed") == "true", httpx.UploadBody(r))
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 {
		if err := a.auth.GrantCreator(r.Context(), auth.Dataset, name); err != nil {
			return nil, err
		}
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
