package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gates"
	"github.com/mlship/mlship/internal/serving"
)

// DefaultOverviewAlias is the alias that marks a model version as in production.
const DefaultOverviewAlias = "production"

// The overview's traffic figures cover trafficDays days of 24 hours ending with the
// current hour, from the deployments' hourly traffic history.
const (
	trafficDays   = 30
	trafficWindow = trafficDays * 24 * time.Hour
)

// Overview is the registry at a glance: the models in production and the stalled ones.
type Overview struct {
	Alias       string          `json:"alias"`
	GeneratedAt int64           `json:"generated_at"`
	Production  []OverviewModel `json:"production"`
	Stalled     []OverviewModel `json:"stalled"`
	// TrafficWindow is the window of every model's traffic figures, and TrafficSince
	// its start (ms): whole hours, the current one included.
	TrafficWindow string `json:"traffic_window"`
	TrafficSince  int64  `json:"traffic_since"`
}

// OverviewModel is one registered model in the overview.
type OverviewModel struct {
	Name    string `json:"name"`
	Owner   string `json:"owner"`
	Contact string `json:"contact"`
	// OwnerFrom says where Owner comes from: the mlship.owner tag, or the creator of
	// its first version when the tag is not set.
	OwnerFrom    string `json:"owner_from"`
	RegisteredAt int64  `json:"registered_at"`
	// Version holds the alias; empty: nothing does.
	Version string `json:"version"`
	// Since is when the alias moved to Version: recorded with the alias, or, for an
	// alias set before mlship recorded it, from the alias audit (kept for protected
	// aliases only); absent when neither knows. SinceFrom says which: alias or audit.
	Since     *int64 `json:"since,omitempty"`
	SinceFrom string `json:"since_from,omitempty"`
	// FirstProductionAt is the alias's first move (the earliest the alias audit or the
	// alias itself knows), and TimeToProductionMs the time from the model's
	// registration to it; absent when neither knows.
	FirstProductionAt  *int64                 `json:"first_production_at,omitempty"`
	TimeToProductionMs *int64                 `json:"time_to_production_ms,omitempty"`
	Gate               *gates.EvaluationBrief `json:"gate"`
	Deployments        []DeploymentHealth     `json:"deployments"`
	Traffic            Traffic                `json:"traffic"`
	// StalledReason is why a model is stalled: never_promoted or gate_failing.
	StalledReason string `json:"stalled_reason,omitempty"`
}

// DeploymentHealth is a deployment serving a model and its drift status.
type DeploymentHealth struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Drift is drifted or ok (the latest window), no_data (no window yet) or
	// unmonitored.
	Drift          string   `json:"drift"`
	DriftCheckedAt int64    `json:"drift_checked_at,omitempty"`
	DriftedColumns []string `json:"drifted_columns,omitempty"`
}

// Traffic is what the deployments serving a model answered over the traffic window
// (shadow copies left out): each deployment's roles that serve the model now, with
// their history since the window's start.
type Traffic struct {
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	// ClientErrors are the failures due to bad input.
	ClientErrors uint64  `json:"client_errors"`
	ErrorRate    float64 `json:"error_rate"`
	// Daily is the window day by day (24 hours each, the last ending with the current
	// hour), oldest first: trafficDays points.
	Daily []TrafficDay `json:"daily"`
}

// TrafficDay is one day of a model's traffic.
type TrafficDay struct {
	Start    int64  `json:"start"` // ms since the epoch
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
}

// trafficHours is the overview's window: the first and last hours' starts, Unix seconds.
func trafficHours(now time.Time) (from, to int64) {
	to = now.Unix() / 3600 * 3600
	return to - int64(trafficWindow/time.Second) + 3600, to
}

func newTraffic(from int64) Traffic {
	t := Traffic{Daily: make([]TrafficDay, trafficDays)}
	for i := range t.Daily {
		t.Daily[i].Start = (from + int64(i)*24*3600) * 1000
	}
	return t
}

func (a *API) overview(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	alias := q.Get("alias")
	if alias == "" {
		alias = DefaultOverviewAlias
	}
	if len(alias) > 255 {
		return nil, fault.Invalidf("alias is %d characters; at most 255", len(alias))
	}
	asCSV, err := wantsCSV(r)
	if err != nil {
		return nil, err
	}
	g, err := a.gateService()
	if err != nil {
		return nil, err
	}
	o, err := a.buildOverview(r.Context(), g, alias)
	if err != nil || !asCSV {
		return o, err
	}
	return nil, writeOverviewCSV(w, o)
}

// wantsCSV reads ?format (json or csv), else the Accept header.
func wantsCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(r.Header.Get("Accept"), "text/csv"), nil
	default:
		return false, fault.Invalidf("format %q: use json or csv", f)
	}
}

func (a *API) buildOverview(ctx context.Context, g *gates.Service, alias string) (*Overview, error) {
	records, err := g.ModelRecords(ctx, alias)
	if err != nil {
		return nil, err
	}
	visible, err := a.auth.Visible(ctx, auth.RegisteredModel)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	from, to := trafficHours(now)
	served, err := a.servingByModel(ctx, from, to)
	if err != nil {
		return nil, err
	}
	o := &Overview{Alias: alias, GeneratedAt: now.UnixMilli(), Production: []OverviewModel{}, Stalled: []OverviewModel{},
		TrafficWindow: trafficWindow.String(), TrafficSince: from * 1000}
	for _, rec := range records {
		if !visible.Allows(rec.Name) {
			continue
		}
		m := overviewModel(rec)
		m.Deployments, m.Traffic = []DeploymentHealth{}, newTraffic(from)
		if s := served[rec.Name]; s != nil {
			m.Deployments, m.Traffic = s.deployments, s.traffic
		}
		if m.Version != "" {
			o.Production = append(o.Production, m)
		}
		if m.StalledReason = stalledReason(rec); m.StalledReason != "" {
			o.Stalled = append(o.Stalled, m)
		}
	}
	return o, nil
}

func overviewModel(rec *gates.ModelRecord) OverviewModel {
	m := OverviewModel{Name: rec.Name, Owner: rec.Owner, Contact: rec.Contact, OwnerFrom: "tag",
		RegisteredAt: rec.CreatedAt, Version: rec.Version, Gate: rec.Latest}
	if m.Owner == "" {
		m.Owner, m.OwnerFrom = rec.Creator, "creator"
	}
	switch {
	case rec.Version == "":
	case rec.AliasSetAt > 0:
		m.Since, m.SinceFrom = &rec.AliasSetAt, "alias"
	case rec.Since > 0:
		m.Since, m.SinceFrom = &rec.Since, "audit"
	}
	if first := earliest(rec.FirstAliasAt, rec.AliasFirstSetAt); first > 0 {
		took := first - rec.CreatedAt
		m.FirstProductionAt, m.TimeToProductionMs = &first, &took
	}
	return m
}

// earliest is the smaller of two times, 0 standing for unknown.
func earliest(a, b int64) int64 {
	if a == 0 || b > 0 && b < a {
		return b
	}
	return a
}

// stalledReason says why a model is stalled: it has versions but none ever held the
// alias, or its newest evaluation failed the gate.
func stalledReason(rec *gates.ModelRecord) string {
	switch {
	case rec.Latest != nil && rec.Latest.Passed != nil && !*rec.Latest.Passed:
		return "gate_failing"
	case rec.Version == "" && rec.FirstAliasAt == 0 && rec.FirstVersionAt > 0:
		return "never_promoted"
	}
	return ""
}

// modelServing is what the deployments serving one model add up to.
type modelServing struct {
	deployments []DeploymentHealth
	traffic     Traffic
}

// servingByModel finds, for each registered model, the deployments the caller may read
// that serve one of its versions, their drift and their traffic from hour from to to.
func (a *API) servingByModel(ctx context.Context, from, to int64) (map[string]*modelServing, error) {
	out := map[string]*modelServing{}
	if a.deployments == nil {
		return out, nil
	}
	visible, err := a.auth.Visible(ctx, auth.Deployment)
	if err != nil {
		return nil, err
	}
	for _, d := range a.deployments.List() {
		if !visible.Allows(d.Name()) {
			continue
		}
		v := d.View()
		roles := map[string][]string{} // model -> roles serving it
		for _, ms := range v.Status.Models {
			if model := servedModel(ms); model != "" {
				roles[model] = append(roles[model], ms.Role)
			}
		}
		if len(roles) == 0 {
			continue
		}
		h, err := a.driftHealth(ctx, v)
		if err != nil {
			return nil, err
		}
		hours, err := a.deployments.Traffic(ctx, v.Name, from, to)
		if err != nil {
			return nil, err
		}
		for model, rs := range roles {
			s := out[model]
			if s == nil {
				s = &modelServing{traffic: newTraffic(from)}
				out[model] = s
			}
			h.Roles = rs
			s.deployments = append(s.deployments, h)
			s.traffic.add(hours, rs, from)
		}
	}
	return out, nil
}

// servedModel is the registered model a deployment's role serves: the one it has
// loaded, or, before it has loaded one, the one its reference names.
func servedModel(ms serving.ModelStatus) string {
	if ms.Model != "" {
		return ms.Model
	}
	rest, ok := strings.CutPrefix(ms.Ref, "models:/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "@")
	name, _, _ = strings.Cut(name, "/")
	return name
}

// add counts the hours of the roles that answer clients, from hour from on.
func (t *Traffic) add(hours []serving.TrafficHour, roles []string, from int64) {
	for _, h := range hours {
		if h.Role == "shadow" || !contains(roles, h.Role) {
			continue
		}
		t.Requests += h.Requests
		t.Failures += h.Failures
		t.ClientErrors += h.ClientErrors
		if day := (h.Hour - from) / (24 * 3600); day >= 0 && day < int64(len(t.Daily)) {
			t.Daily[day].Requests += h.Requests
			t.Daily[day].Failures += h.Failures
		}
	}
	if t.Requests > 0 {
		t.ErrorRate = float64(t.Failures) / float64(t.Requests)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// driftHealth reads a deployment's latest drift window.
func (a *API) driftHealth(ctx context.Context, v serving.View) (DeploymentHealth, error) {
	h := DeploymentHealth{Name: v.Name, Drift: "unmonitored"}
	if v.Spec.Monitoring == nil || a.monitor == nil {
		return h, nil
	}
	ws, err := a.monitor.List(ctx, v.Name, 1, false)
	if err != nil || len(ws) == 0 {
		h.Drift = "no_data"
		return h, err
	}
	h.Drift, h.DriftCheckedAt = "ok", ws[0].EndMs
	if ws[0].DatasetDrift {
		h.Drift, h.DriftedColumns = "drifted", ws[0].DriftedColumns
	}
	return h, nil
}

// overviewColumns are the overview's CSV columns.
var overviewColumns = []string{"model", "in_production", "stalled_reason", "owner", "owner_from", "contact", "version",
	"since", "registered_at", "first_production_at", "days_to_production", "gate_status", "gate_passed", "gate_version",
	"deployments", "drift", "requests_30d", "failures_30d", "error_rate_30d"}

// writeOverviewCSV writes one row per model, production first, then the stalled ones
// not in production; times in RFC 3339, UTC.
func writeOverviewCSV(w http.ResponseWriter, o *Overview) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="overview.csv"`)
	cw := csv.NewWriter(w)
	cw.Write(overviewColumns)
	rows := append([]OverviewModel{}, o.Production...)
	for _, m := range o.Stalled {
		if m.Version == "" {
			rows = append(rows, m)
		}
	}
	for _, m := range rows {
		row := overviewRow(m)
		for i, cell := range row {
			row[i] = inert(cell)
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func overviewRow(m OverviewModel) []string {
	var deps, drift []string
	for _, d := range m.Deployments {
		deps = append(deps, d.Name)
		drift = append(drift, d.Name+":"+d.Drift)
	}
	gateStatus, gatePassed, gateVersion := "", "", ""
	if m.Gate != nil {
		gateStatus, gateVersion = m.Gate.Status, m.Gate.Version
		if m.Gate.Passed != nil {
			gatePassed = strconv.FormatBool(*m.Gate.Passed)
		}
	}
	days := ""
	if m.TimeToProductionMs != nil {
		days = strconv.FormatFloat(float64(*m.TimeToProductionMs)/float64(24*time.Hour/time.Millisecond), 'f', 2, 64)
	}
	return []string{m.Name, strconv.FormatBool(m.Version != ""), m.StalledReason, m.Owner, m.OwnerFrom, m.Contact, m.Version,
		timeText(m.Since), timeText(&m.RegisteredAt), timeText(m.FirstProductionAt), days, gateStatus, gatePassed, gateVersion,
		strings.Join(deps, " "), strings.Join(drift, " "), strconv.FormatUint(m.Traffic.Requests, 10),
		strconv.FormatUint(m.Traffic.Failures, 10), strconv.FormatFloat(m.Traffic.ErrorRate, 'f', 4, 64)}
}

func timeText(ms *int64) string {
	if ms == nil || *ms == 0 {
		return ""
	}
	return time.UnixMilli(*ms).UTC().Format(time.RFC3339)
}

// inert keeps a spreadsheet from reading a cell (a model name, an owner tag) as a
// formula, as OWASP advises for CSV exports.
func inert(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
