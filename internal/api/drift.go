package api

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/drift"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/monitor"
)

// versionRef names a dataset version in a request.
type versionRef struct {
	Dataset string `json:"dataset"`
	Version string `json:"version"` // a number or latest; empty means latest
}

// driftRequest is the body of POST /api/v1/drift.
type driftRequest struct {
	Reference versionRef `json:"reference"`
	Current   versionRef `json:"current"`
	// Method, if set, is the test for every column instead of Evidently's choice.
	Method string `json:"method,omitempty"`
	// Threshold, if set, replaces the method's default threshold.
	Threshold *float64 `json:"threshold,omitempty"`
	// DriftShare is the share of drifted columns that makes the dataset drift.
	DriftShare float64  `json:"drift_share,omitempty"`
	Columns    []string `json:"columns,omitempty"`
	// Exact compares the data itself even when the versions are large.
	Exact bool `json:"exact,omitempty"`
	// KindsFrom is current (the default, as Evidently) or reference: whose
	// inferred column kinds decide the tests.
	KindsFrom string `json:"kinds_from,omitempty"`
}

func (r driftRequest) options() (*drift.Options, error) {
	kindsFrom, err := drift.ParseKindsFrom(r.KindsFrom)
	if err != nil {
		return nil, fault.Invalidf("kinds_from %q: use current or reference", r.KindsFrom)
	}
	o := &drift.Options{Threshold: r.Threshold, DriftShare: r.DriftShare, Columns: r.Columns, KindsFrom: kindsFrom}
	if r.Method != "" {
		m, err := drift.ParseMethod(r.Method)
		if err != nil {
			return nil, fault.Invalidf("unknown drift method %q: use one of %v", r.Method, drift.Methods())
		}
		o.Method = m
	}
	return o, nil
}

// compareDatasets reports the drift between two dataset versions, as JSON or, with
// ?format=html, as a self-contained HTML page.
func (a *API) compareDatasets(w http.ResponseWriter, r *http.Request) (any, error) {
	var req driftRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	opts, err := req.options()
	if err != nil {
		return nil, err
	}
	ref, err := a.datasetVersion(r, req.Reference)
	if err != nil {
		return nil, err
	}
	cur, err := a.datasetVersion(r, req.Current)
	if err != nil {
		return nil, err
	}
	report, err := a.datasets.Compare(r.Context(), ref, cur, req.Exact, opts)
	if err != nil {
		return nil, err
	}
	if r.URL.Query().Get("format") == "html" {
		return nil, writeHTML(w, report)
	}
	return report, nil
}

func (a *API) datasetVersion(r *http.Request, ref versionRef) (*datasets.Version, error) {
	if ref.Dataset == "" {
		return nil, fault.Invalidf("name the reference and current datasets: {\"dataset\": NAME, \"version\": N}")
	}
	if err := a.auth.Can(r.Context(), auth.Dataset, ref.Dataset, auth.LevelRead); err != nil {
		return nil, err
	}
	return a.datasets.Get(r.Context(), ref.Dataset, ref.Version)
}

// writeHTML renders a report whole before sending it, so that a failure is still an
// error answer and not half a page.
func writeHTML(w http.ResponseWriter, report *drift.Report) error {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(buf.Bytes())
	return err
}

// driftWindows is the answer of GET /api/v1/deployments/{name}/drift.
type driftWindows struct {
	Windows []monitor.Summary `json:"windows"`
}

// listDriftWindows lists the drift found in a deployment's traffic, newest window first.
func (a *API) listDriftWindows(w http.ResponseWriter, r *http.Request) (any, error) {
	if a.monitor == nil {
		return nil, fault.New(fault.NotImplemented, "this server monitors no deployments")
	}
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), 20)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > maxPayloadPage {
		return nil, fault.Invalidf("limit must be between 1 and %d, got %d", maxPayloadPage, limit)
	}
	ws, err := a.monitor.List(r.Context(), r.PathValue("name"), int(limit), q.Get("reports") == "true")
	return driftWindows{ws}, err
}
