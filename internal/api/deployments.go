package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/store"
)

// deploymentList is the answer of GET /api/v1/deployments.
type deploymentList struct {
	Deployments []serving.View `json:"deployments"`
}

func (a *API) listDeployments(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	visible, err := a.auth.Visible(r.Context(), auth.Deployment)
	if err != nil {
		return nil, err
	}
	out := deploymentList{Deployments: []serving.View{}}
	for _, d := range m.List() {
		if visible.Allows(d.Name()) {
			out.Deployments = append(out.Deployments, d.View())
		}
	}
	return out, nil
}

func (a *API) getDeployment(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	d, err := m.Lookup(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return d.View(), nil
}

func (a *API) createDeployment(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	spec, err := a.decodeSpec(r)
	if err != nil {
		return nil, err
	}
	if err := a.mayServe(r, spec); err != nil {
		return nil, err
	}
	if spec.Public() {
		store.Describe(r.Context(), "", "POST deployments (inference: public)")
	}
	d, err := m.Create(r.Context(), spec)
	if err != nil {
		return nil, err
	}
	if err := a.auth.GrantCreator(r.Context(), auth.Deployment, d.Name()); err != nil {
		return nil, err
	}
	return d.View(), nil
}

func (a *API) updateDeployment(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	spec, err := a.decodeSpec(r)
	if err != nil {
		return nil, err
	}
	if err := a.mayServe(r, spec); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if spec.Name == "" {
		spec.Name = name
	}
	if spec.Name != name {
		return nil, fault.Invalidf("the spec names deployment %q but the path names %q; a deployment cannot be renamed", spec.Name, name)
	}
	if err := a.mayChangePolicy(r, m, spec); err != nil {
		return nil, err
	}
	d, err := m.Update(r.Context(), spec)
	if err != nil {
		return nil, err
	}
	return d.View(), nil
}

// mayChangePolicy refuses a change of a deployment's inference policy to a caller
// without MANAGE on it (opening a deployment to anyone is the owner's decision), and
// names the change in the request's audit record.
func (a *API) mayChangePolicy(r *http.Request, m *serving.Manager, spec serving.Spec) error {
	d, ok := m.Get(spec.Name)
	if !ok {
		return nil // Update answers that it does not exist
	}
	if d.Public() == spec.Public() {
		return nil
	}
	if err := a.auth.Can(r.Context(), auth.Deployment, spec.Name, auth.LevelManage); err != nil {
		return fault.Wrap(fault.PermissionDenied, err, "changing the inference policy of deployment %q needs MANAGE on it: %v", spec.Name, err)
	}
	policy := serving.InferenceAuthenticated
	if spec.Public() {
		policy = serving.InferencePublic
	}
	store.Describe(r.Context(), "", "PUT deployments/{name} (inference: "+policy+")")
	return nil
}

func (a *API) deleteDeployment(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	if err := m.Delete(r.Context(), r.PathValue("name")); err != nil {
		return nil, err
	}
	return struct{}{}, a.auth.ForgetObject(r.Context(), auth.Deployment, r.PathValue("name"))
}

func (a *API) manager() (*serving.Manager, error) {
	if a.deployments == nil {
		return nil, fault.New(fault.NotImplemented, "this server hosts no deployments")
	}
	return a.deployments, nil
}

// decodeSpec reads a deployment spec and refuses a webhook the server would not call.
func (a *API) decodeSpec(r *http.Request) (serving.Spec, error) {
	var spec serving.Spec
	if err := decodeJSON(r, &spec); err != nil {
		return spec, err
	}
	if spec.Monitoring != nil && a.monitor != nil {
		return spec, a.monitor.CheckWebhook(spec.Monitoring.Webhook)
	}
	return spec, nil
}

// decodeJSON reads a body that must hold one JSON object with only known fields.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fault.Wrap(fault.Invalid, err, "the body must be a JSON object of this request's fields: %v", err)
	}
	if dec.More() {
		return fault.Invalidf("the body must hold one JSON object")
	}
	return nil
}

// maxPayloadPage caps a page of the payload log.
const maxPayloadPage = 1000

// payloadPage is the answer of GET /api/v1/deployments/{name}/payloads.
type payloadPage struct {
	Payloads []serving.StoredPayload `json:"payloads"`
	// NextAfterID continues the listing: pass it as after_id. Absent at the end.
	NextAfterID int64 `json:"next_after_id,omitempty"`
}

func (a *API) listPayloads(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := a.manager()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	since, err1 := intParam(q.Get("since_ms"), 0)
	after, err2 := intParam(q.Get("after_id"), 0)
	limit, err3 := intParam(q.Get("limit"), 100)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	if limit < 1 || limit > maxPayloadPage {
		return nil, fault.Invalidf("limit must be between 1 and %d, got %d", maxPayloadPage, limit)
	}
	rows, err := m.ListPayloads(r.Context(), r.PathValue("name"), since, after, int(limit))
	if err != nil {
		return nil, err
	}
	page := payloadPage{Payloads: rows}
	if len(rows) == int(limit) {
		page.NextAfterID = rows[len(rows)-1].ID
	}
	return page, nil
}

func intParam(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fault.Invalidf("%q is not a non-negative integer", s)
	}
	return v, nil
}
