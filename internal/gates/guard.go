package gates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/webhooks"
)

var _ registry.AliasGuard = (*Service)(nil)

// CheckAlias lets a protected alias move only to a version whose latest evaluation on
// the benchmark in force, for that alias, passed against the version holding it now;
// or with an override reason. Every move of a protected alias is written to the audit
// trail in the same transaction as the move.
func (s *Service) CheckAlias(ctx context.Context, tx *store.Tx, m registry.AliasMove) error {
	b, err := s.benchmark(ctx, tx, m.Name)
	if err != nil || b == nil || !slices.Contains(b.Definition.Protected, m.Alias) {
		return err
	}
	if s.opts.MayMoveProtected != nil {
		if err := s.opts.MayMoveProtected(ctx, m.Name); err != nil {
			return err
		}
	}
	switch {
	case m.Version == 0:
		return s.audit(ctx, tx, m, ActionDeleted, 0)
	case m.Override != "":
		if err := s.audit(ctx, tx, m, ActionOverride, 0); err != nil || s.opts.Events == nil {
			return err
		}
		return s.opts.Events.Record(ctx, tx, webhooks.ProtectedAliasOverridden, overrideEvent{Name: m.Name, Alias: m.Alias,
			Version: strconv.FormatInt(m.Version, 10), PreviousVersion: holderVersion(m.Previous), Reason: m.Override, Actor: m.Actor})
	}
	e, err := scanEvaluation(tx.QueryRowContext(ctx, `SELECT `+evaluationColumns+evaluationsFrom+`
		WHERE e.rm_id = ? AND e.version = ? AND e.revision = ? AND e.alias = ? AND e.status = ?
		ORDER BY e.id DESC LIMIT 1`, m.ModelID, m.Version, b.Revision, m.Alias, StatusSucceeded))
	if errors.Is(err, sql.ErrNoRows) {
		return fault.New(fault.Conflict, "%s version %d cannot take the protected alias %q: it has no successful evaluation on the model's benchmark%s. "+
			"Run `mlship gate evaluate %s/%d --alias %s`, or override with a reason: `mlship models alias %s %s %d --override REASON`",
			m.Name, m.Version, m.Alias, holderClause(m.Previous), m.Name, m.Version, m.Alias, m.Name, m.Alias, m.Version)
	}
	if err != nil {
		return err
	}
	if holder := versionOrZero(e.BaselineVersion); holder != m.Previous {
		return fault.New(fault.Conflict, "%s version %d cannot take the protected alias %q: it was evaluated against %s, but %s holds %q now. "+
			"Run `mlship gate evaluate %s/%d --alias %s` again",
			m.Name, m.Version, m.Alias, holderName(holder), holderName(m.Previous), m.Alias, m.Name, m.Version, m.Alias)
	}
	if e.Passed == nil || !*e.Passed {
		summary := "it did not pass"
		if e.Verdict != nil {
			summary = e.Verdict.Summary
		}
		return fault.Wrap(fault.Conflict, gate.ErrNotBlessed,
			"%s version %d cannot take the protected alias %q: evaluation %d on the benchmark (against %s) %s. "+
				"To promote it anyway, override with a reason: `mlship models alias %s %s %d --override REASON`",
			m.Name, m.Version, m.Alias, e.ID, holderName(m.Previous), strings.TrimPrefix(summary, "the benchmark "), m.Name, m.Alias, m.Version)
	}
	return s.audit(ctx, tx, m, ActionPassed, e.ID)
}

// overrideEvent is the payload of protected_alias.overridden.
type overrideEvent struct {
	Name            string  `json:"name"`
	Alias           string  `json:"alias"`
	Version         string  `json:"version"`
	PreviousVersion *string `json:"previous_version"`
	Reason          string  `json:"reason"`
	Actor           string  `json:"actor,omitempty"`
}

// holderVersion is the version an alias pointed at, null for none.
func holderVersion(v int64) *string {
	if v == 0 {
		return nil
	}
	s := strconv.FormatInt(v, 10)
	return &s
}

func holderClause(v int64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(" against version %d, which holds it now", v)
}

func holderName(v int64) string {
	if v == 0 {
		return "no holder"
	}
	return fmt.Sprintf("version %d", v)
}

// versionOrZero is a version number, 0 for none.
func versionOrZero(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func (s *Service) audit(ctx context.Context, tx *store.Tx, m registry.AliasMove, action string, evalID int64) error {
	var eval any
	if evalID != 0 {
		eval = evalID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO alias_audit (model, alias, version, previous, action, reason,
		evaluation_id, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Name, m.Alias, nullVersion(m.Version), nullVersion(m.Previous), action, m.Override, eval, m.Actor, s.millis())
	return err
}
