package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type auditEntry struct {
	ID         int64  `json:"id"`
	At         int64  `json:"at"`
	Actor      string `json:"actor"`
	TokenID    int64  `json:"token_id,omitempty"`
	Address    string `json:"address"`
	Route      string `json:"route"`
	Action     string `json:"action"`
	ObjectKind string `json:"object_kind"`
	Object     string `json:"object"`
	Outcome    string `json:"outcome"`
	Status     int    `json:"status,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
}

func auditCommand() *cobra.Command {
	var f clientFlags
	var q struct {
		actor, kind, object, action, outcome, since, until string
		limit                                              int
		pageToken                                          string
		all                                                bool
	}
	c := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: who changed what, when, from where, with what outcome",
		Long: `Show the audit trail, newest first. Every request that changes state is recorded:
its record is written in the same transaction as the change, and requests that were
refused (outcome denied) or failed are recorded too. Records outlive the objects they
name. Reading the trail needs the admin scope when the server checks identities.`,
		Example: `  mlship audit --since 24h
  mlship audit --object-kind alias --object fraud@production
  mlship audit --actor alice --outcome denied -o json
  mlship audit --since 2026-01-01T00:00:00Z --until 2026-02-01T00:00:00Z --all -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			v := url.Values{}
			for k, s := range map[string]string{"actor": q.actor, "object_kind": q.kind, "object": q.object,
				"action": q.action, "outcome": q.outcome, "page_token": q.pageToken} {
				if s != "" {
					v.Set(k, s)
				}
			}
			for k, s := range map[string]string{"since": q.since, "until": q.until} {
				if s == "" {
					continue
				}
				ms, err := sinceArg(s, time.Now())
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", k, err)}
				}
				v.Set(k, strconv.FormatInt(ms, 10))
			}
			v.Set("max_results", strconv.Itoa(q.limit))
			var out struct {
				Entries       []auditEntry `json:"entries"`
				NextPageToken string       `json:"next_page_token,omitempty"`
			}
			for {
				var page struct {
					Entries       []auditEntry `json:"entries"`
					NextPageToken string       `json:"next_page_token,omitempty"`
				}
				if err := cl.Get(cmd.Context(), "/api/v1/audit", v, &page); err != nil {
					return err
				}
				out.Entries = append(out.Entries, page.Entries...)
				out.NextPageToken = page.NextPageToken
				if !q.all || page.NextPageToken == "" {
					break
				}
				v.Set("page_token", page.NextPageToken)
			}
			if out.Entries == nil {
				out.Entries = []auditEntry{}
			}
			return f.out.print(cmd.OutOrStdout(), out, func(t *tabwriter.Writer) {
				row(t, "TIME", "ACTOR", "ADDRESS", "ACTION", "OBJECT", "OUTCOME")
				for _, e := range out.Entries {
					outcome := e.Outcome
					if e.Status != 0 {
						outcome += " (" + strconv.Itoa(e.Status) + ")"
					}
					row(t, time.UnixMilli(e.At).UTC().Format("2006-01-02 15:04:05"), dash(e.Actor), e.Address, e.Action,
						dash(strings.TrimPrefix(e.ObjectKind+" "+e.Object, " ")), outcome)
				}
				if out.NextPageToken != "" {
					row(t, "", "", "", "", "more: --page-token "+out.NextPageToken+" (or --all)", "")
				}
			})
		},
	}
	f.add(c)
	fl := c.Flags()
	fl.StringVar(&q.actor, "actor", "", "only requests by this identity (local: a server without --auth)")
	fl.StringVar(&q.kind, "object-kind", "", "only this kind of object: experiment, run, registered_model, model_version, logged_model, artifact, dataset, deployment, benchmark, alias, user, token, team, permission, content")
	fl.StringVar(&q.object, "object", "", "only this object: an id, a name, fraud/3 for a version, fraud@production for an alias")
	fl.StringVar(&q.action, "action", "", `only this action, e.g. "POST runs/log-batch" or "PUT models/{name}/aliases/{alias}"`)
	fl.StringVar(&q.outcome, "outcome", "", "only this outcome: succeeded, failed or denied")
	fl.StringVar(&q.since, "since", "", "only records from this time on: a duration back from now (24h, 7d) or an RFC 3339 time")
	fl.StringVar(&q.until, "until", "", "only records before this time: a duration back from now or an RFC 3339 time")
	fl.IntVar(&q.limit, "limit", 100, "records per page (at most 1000)")
	fl.StringVar(&q.pageToken, "page-token", "", "the page after the one that printed this token")
	fl.BoolVar(&q.all, "all", false, "every page, not only the first")
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sinceArg reads a time given as a duration back from now (90m, 24h, 7d) or RFC 3339,
// as milliseconds since the epoch.
func sinceArg(s string, now time.Time) (int64, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixMilli(), nil
	}
	var d days
	if err := d.Set(s); err != nil {
		return 0, fmt.Errorf("%q is neither a duration (24h, 7d) nor an RFC 3339 time", s)
	}
	return now.Add(-time.Duration(d)).UnixMilli(), nil
}

// days is a duration flag that also takes whole days: 365d.
type days time.Duration

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number of days", s)
		}
		*d = days(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration (720h, 365d)", s)
	}
	*d = days(v)
	return nil
}

func (d *days) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	return v.String()
}

func (d *days) Type() string { return "duration" }
