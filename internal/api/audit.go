package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/fault"
)

// listAudit answers GET /api/v1/audit: the audit trail, newest first, filtered and paged.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) (any, error) {
	if a.audit == nil {
		return nil, fault.Invalidf("this server keeps no audit trail")
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), ObjectKind: q.Get("object_kind"), Object: q.Get("object"),
		Action: q.Get("action"), Outcome: q.Get("outcome")}
	if f.ObjectKind != "" && !slices.Contains(audit.Kinds, f.ObjectKind) {
		return nil, fault.Invalidf("object_kind %q is not one of %v", f.ObjectKind, audit.Kinds)
	}
	if f.Outcome != "" && !slices.Contains(audit.Outcomes, f.Outcome) {
		return nil, fault.Invalidf("outcome %q is not one of %v", f.Outcome, audit.Outcomes)
	}
	var err error
	if f.Since, err = instant("since", q.Get("since")); err != nil {
		return nil, err
	}
	if f.Until, err = instant("until", q.Get("until")); err != nil {
		return nil, err
	}
	limit, err := intParam(q.Get("max_results"), 100)
	if err != nil {
		return nil, err
	}
	f.Limit = int(limit)
	if tok := q.Get("page_token"); tok != "" {
		if f.Before, err = strconv.ParseInt(tok, 10, 64); err != nil || f.Before <= 0 {
			return nil, fault.Invalidf("page_token %q is not one this server gave", tok)
		}
	}
	return a.audit.Query(r.Context(), f)
}

// instant reads a time given as milliseconds since the epoch or as RFC 3339.
func instant(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fault.Invalidf("%s %q is neither milliseconds since the epoch nor an RFC 3339 time (2026-01-31T12:00:00Z)", name, s)
	}
	return t.UnixMilli(), nil
}
