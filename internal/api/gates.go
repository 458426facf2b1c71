package api

import (
	"github.com/mlship/mlship/internal/auth"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gates"
	"github.com/mlship/mlship/internal/httpx"
)

func (a *API) gateService() (*gates.Service, error) {
	if a.gates == nil {
		return nil, fault.New(fault.NotImplemented, "this server runs no benchmark gates")
	}
	return a.gates, nil
}

// setBenchmark gives a registered model its benchmark (PUT: a new revision replaces
// the one in force).
func (a *API) setBenchmark(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	var in gates.BenchmarkInput
	if err := decodeJSON(r, &in); err != nil {
		return nil, err
	}
	// The benchmark's rows are read on every evaluation: pinning it needs READ on them.
	dataset, _, _ := strings.Cut(in.Dataset, "/")
	if err := a.auth.Can(r.Context(), auth.Dataset, dataset, auth.LevelRead); err != nil {
		return nil, err
	}
	return g.SetBenchmark(r.Context(), r.PathValue("name"), in)
}

func (a *API) getBenchmark(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	return g.Benchmark(r.Context(), r.PathValue("name"))
}

func (a *API) deleteBenchmark(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	return struct{}{}, g.DeleteBenchmark(r.Context(), r.PathValue("name"))
}

// evaluateRequest is the body of POST .../versions/{version}/evaluations.
type evaluateRequest struct {
	Alias    string `json:"alias,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// evaluate queues an evaluation of a model version on its benchmark: 202 and the
// evaluation, whose status and progress GET /api/v1/evaluations/{id} reports.
func (a *API) evaluate(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	var req evaluateRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			return nil, err
		}
	}
	e, err := g.Evaluate(r.Context(), gates.EvaluateInput{Model: r.PathValue("name"), Version: r.PathValue("version"),
		Alias: req.Alias, Revision: req.Revision})
	if err != nil {
		return nil, err
	}
	w.Header().Set("Location", "/api/v1/evaluations/"+strconv.FormatInt(e.ID, 10))
	httpx.WriteJSON(w, http.StatusAccepted, e)
	return nil, nil
}

func (a *API) getEvaluation(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return nil, fault.Invalidf("evaluation id %q is not a positive number", r.PathValue("id"))
	}
	e, err := g.Evaluation(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := a.auth.Can(r.Context(), auth.RegisteredModel, e.Model, auth.LevelRead); err != nil {
		return nil, err
	}
	return e, nil
}

// listEvaluations is a model's evaluation history, newest first (?version= keeps one
// version's).
func (a *API) listEvaluations(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	es, err := g.History(r.Context(), r.PathValue("name"), r.URL.Query().Get("version"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"evaluations": es}, nil
}

func (a *API) listAliasAudit(w http.ResponseWriter, r *http.Request) (any, error) {
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	entries, err := g.Audit(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 { // the trail outlives its model: only an unknown name with none is an error
		if _, err := a.registry.GetRegisteredModel(r.Context(), r.PathValue("name")); err != nil {
			return nil, err
		}
	}
	return map[string]any{"entries": entries}, nil
}

// setAliasRequest is the body of PUT /api/v1/models/{name}/aliases/{alias}.
type setAliasRequest struct {
	Version string `json:"version"`
	// Override, the reason to promote a version that has not passed the gate, is
	// recorded in the audit trail with Actor.
	Override string `json:"override,omitempty"`
	Actor    string `json:"actor,omitempty"`
}

// setAlias points an alias at a version, through the gate of a protected alias, or
// past it with an override reason.
func (a *API) setAlias(w http.ResponseWriter, r *http.Request) (any, error) {
	var req setAliasRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	name, alias := r.PathValue("name"), r.PathValue("alias")
	// With identities on, the audit trail names who signed in, never a name the
	// request chose.
	if id := auth.From(r.Context()); id != nil {
		if req.Actor != "" && req.Actor != id.Name {
			return nil, fault.Invalidf("actor %q is not you: the audit trail records the signed-in identity (%s); leave actor out", req.Actor, id.Name)
		}
		req.Actor = id.Name
	}
	if err := a.registry.SetAliasOverride(r.Context(), name, alias, req.Version, req.Override, req.Actor); err != nil {
		return nil, err
	}
	return map[string]string{"name": name, "alias": alias, "version": req.Version}, nil
}
