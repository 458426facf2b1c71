package mlflowapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/webhooks"
)

// webhookRoutes are MLflow's webhook API (WebhookService). Managing webhooks is for
// administrators, as on MLflow's server with its auth app: a webhook receives every
// registry event, whichever model it is of.
func (a *API) webhookRoutes() []route {
	return []route{
		{"POST", "webhooks", a.createWebhook, httpx.Admin},
		{"GET", "webhooks", a.listWebhooks, httpx.Admin},
		{"GET", "webhooks/{webhook_id}", a.getWebhook, httpx.Admin},
		{"PATCH", "webhooks/{webhook_id}", a.updateWebhook, httpx.Admin},
		{"DELETE", "webhooks/{webhook_id}", a.deleteWebhook, httpx.Admin},
		{"POST", "webhooks/{webhook_id}/test", a.testWebhook, httpx.Admin},
	}
}

// MLflow's WebhookEntity and WebhookAction enums, by number; mlship's own entities
// follow, spelled the same way (GATE_VERDICT.CREATED is gate_verdict.created).
var (
	webhookEntities = []string{"REGISTERED_MODEL", "MODEL_VERSION", "MODEL_VERSION_TAG", "MODEL_VERSION_ALIAS",
		"PROMPT", "PROMPT_VERSION", "PROMPT_TAG", "PROMPT_VERSION_TAG", "PROMPT_ALIAS", "BUDGET_POLICY",
		"GATE_VERDICT", "PROTECTED_ALIAS", "DEPLOYMENT", "DRIFT"}
	webhookActions  = []string{"CREATED", "UPDATED", "DELETED", "SET", "EXCEEDED", "OVERRIDDEN", "SWAPPED", "DETECTED"}
	webhookStatuses = []string{webhooks.StatusActive, webhooks.StatusDisabled}
)

// webhookEvent is MLflow's WebhookEvent on the wire.
type webhookEvent struct {
	Entity string `json:"entity"`
	Action string `json:"action"`
}

func (e *webhookEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		Entity json.RawMessage `json:"entity"`
		Action json.RawMessage `json:"action"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fault.Invalidf("Invalid webhook event %s: expected {\"entity\": ..., \"action\": ...}", b)
	}
	if raw.Entity == nil || raw.Action == nil {
		return fault.Invalidf("Invalid webhook event %s: entity and action are required", b)
	}
	var err error
	if e.Entity, err = decodeEnum(raw.Entity, webhookEntities, "webhook entity"); err != nil {
		return fault.Invalidf("Invalid webhook event: %v", err)
	}
	if e.Action, err = decodeEnum(raw.Action, webhookActions, "webhook action"); err != nil {
		return fault.Invalidf("Invalid webhook event: %v", err)
	}
	return nil
}

func (e webhookEvent) name() string { return strings.ToLower(e.Entity + "." + e.Action) }

func wireEvent(name string) webhookEvent {
	entity, action, _ := strings.Cut(strings.ToUpper(name), ".")
	return webhookEvent{entity, action}
}

// webhookStatus is MLflow's WebhookStatus, by name or number.
type webhookStatus string

func (s *webhookStatus) UnmarshalJSON(b []byte) error {
	v, err := decodeEnum(b, webhookStatuses, "webhook status")
	if err != nil {
		return fault.Invalidf("Invalid value for parameter 'status': %v", err)
	}
	*s = webhookStatus(v)
	return nil
}

type webhookRequest struct {
	Name        *string        `json:"name"`
	Description *string        `json:"description"`
	URL         *string        `json:"url"`
	Events      []webhookEvent `json:"events"`
	// MlshipEvents are mlship's own events ("drift.detected"), which MLflow's enum
	// cannot name; they may also be given in Events (DRIFT, DETECTED).
	MlshipEvents []string       `json:"mlship_events"`
	Secret       *string        `json:"secret"`
	Status       *webhookStatus `json:"status"`
}

func (r *webhookRequest) input() webhooks.Input {
	in := webhooks.Input{Name: r.Name, Description: r.Description, URL: r.URL, Secret: r.Secret}
	if r.Status != nil {
		st := string(*r.Status)
		in.Status = &st
	}
	for _, e := range r.Events {
		in.Events = append(in.Events, e.name())
	}
	in.Events = append(in.Events, r.MlshipEvents...)
	return in
}

// keepOther completes an update's events with the webhook's current events of the
// kind the update does not name: MLflow's client, which knows only MLflow's events,
// then leaves mlship's subscriptions as they are, and a change of mlship's alone keeps
// MLflow's.
func (r *webhookRequest) keepOther(current []string) {
	if len(r.Events) == 0 && len(r.MlshipEvents) == 0 {
		return
	}
	namesMLflow, namesMlship := false, len(r.MlshipEvents) > 0
	for _, e := range r.Events {
		if webhooks.IsMLflowEvent(e.name()) {
			namesMLflow = true
		} else {
			namesMlship = true
		}
	}
	for _, e := range current {
		switch mlflow := webhooks.IsMLflowEvent(e); {
		case mlflow && !namesMLflow:
			r.Events = append(r.Events, wireEvent(e))
		case !mlflow && !namesMlship:
			r.MlshipEvents = append(r.MlshipEvents, e)
		}
	}
}

// webhookJSON is MLflow's Webhook message: never the secret.
// mlship's own events go in mlship_events, which MLflow's client ignores: it cannot
// read an event outside its enum.
type webhookJSON struct {
	WebhookID            string         `json:"webhook_id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description,omitempty"`
	URL                  string         `json:"url"`
	Events               []webhookEvent `json:"events"`
	MlshipEvents         []string       `json:"mlship_events,omitempty"`
	Status               string         `json:"status"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
}

func toWebhookJSON(w *webhooks.Webhook) webhookJSON {
	out := webhookJSON{WebhookID: w.ID, Name: w.Name, Description: w.Description, URL: w.URL, Status: w.Status,
		CreationTimestamp: w.CreatedAt, LastUpdatedTimestamp: w.UpdatedAt, Events: []webhookEvent{}}
	for _, e := range w.Events {
		if webhooks.IsMLflowEvent(e) {
			out.Events = append(out.Events, wireEvent(e))
		} else {
			out.MlshipEvents = append(out.MlshipEvents, e)
		}
	}
	return out
}

type webhookResponse struct {
	Webhook webhookJSON `json:"webhook"`
}

// SetWebhooks serves the webhook API over w. Call it before serving requests.
func (a *API) SetWebhooks(w *webhooks.Service) { a.opts.Webhooks = w }

func (a *API) webhooks() (*webhooks.Service, error) {
	if a.opts.Webhooks == nil {
		return nil, fault.New(fault.NotImplemented, "webhooks are not enabled on this server")
	}
	return a.opts.Webhooks, nil
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	var req webhookRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"name", req.Name == nil || *req.Name == ""}, {"url", req.URL == nil || *req.URL == ""}, {"events", len(req.Events)+len(req.MlshipEvents) == 0}} {
		if f.missing {
			return nil, fault.Missing(f.name)
		}
	}
	hook, err := svc.Create(r.Context(), req.input())
	if err != nil {
		return nil, err
	}
	return webhookResponse{toWebhookJSON(hook)}, nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	var req struct {
		MaxResults *protojson.Int64 `json:"max_results"`
		PageToken  string           `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	hooks, next, err := svc.List(r.Context(), orDefault(req.MaxResults, 0), req.PageToken)
	if err != nil {
		return nil, err
	}
	out := struct {
		Webhooks      []webhookJSON `json:"webhooks"`
		NextPageToken string        `json:"next_page_token,omitempty"`
	}{Webhooks: []webhookJSON{}, NextPageToken: next}
	for _, h := range hooks {
		out.Webhooks = append(out.Webhooks, toWebhookJSON(h))
	}
	return out, nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	hook, err := svc.Get(r.Context(), r.PathValue("webhook_id"))
	if err != nil {
		return nil, err
	}
	return webhookResponse{toWebhookJSON(hook)}, nil
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	var req webhookRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	current, err := svc.Get(r.Context(), r.PathValue("webhook_id"))
	if err != nil {
		return nil, err
	}
	req.keepOther(current.Events)
	hook, err := svc.Update(r.Context(), r.PathValue("webhook_id"), req.input())
	if err != nil {
		return nil, err
	}
	return webhookResponse{toWebhookJSON(hook)}, nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	return httpx.Empty, svc.Delete(r.Context(), r.PathValue("webhook_id"))
}

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) (any, error) {
	svc, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	var req struct {
		Event *webhookEvent `json:"event"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	event := ""
	if req.Event != nil {
		event = req.Event.name()
	}
	res, err := svc.Test(r.Context(), r.PathValue("webhook_id"), event)
	if err != nil {
		return nil, err
	}
	type result struct {
		Success        bool   `json:"success"`
		ResponseStatus int    `json:"response_status,omitempty"`
		ResponseBody   string `json:"response_body,omitempty"`
		ErrorMessage   string `json:"error_message,omitempty"`
	}
	return struct {
		Result result `json:"result"`
	}{result{res.Success, res.ResponseStatus, res.ResponseBody, res.ErrorMessage}}, nil
}
