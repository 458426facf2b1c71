package traces

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Assessment is feedback or an expectation on a trace, kept as MLflow's JSON of its
// Assessment message: its fields are the client's, but for the id, the trace, the
// times and validity, which the server sets.
type Assessment struct {
	ID      string
	TraceID string
	Body    map[string]json.RawMessage
}

// MaxAssessmentBytes caps one assessment's JSON.
const MaxAssessmentBytes = 1 << 20

// CreateAssessment records an assessment on a trace. An assessment that overrides
// another (its "overrides" field) makes that one invalid, as MLflow does.
func (s *Service) CreateAssessment(ctx context.Context, traceID string, body map[string]json.RawMessage) (*Assessment, error) {
	a := &Assessment{ID: "a-" + randomHex(16), TraceID: traceID, Body: body}
	name, err := a.name()
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	a.set("assessment_id", a.ID)
	a.set("trace_id", traceID)
	if _, ok := body["create_time"]; !ok {
		a.set("create_time", now)
	}
	a.set("last_update_time", now)
	if _, ok := body["valid"]; !ok {
		a.set("valid", true)
	}
	var overrides string
	_ = json.Unmarshal(body["overrides"], &overrides)
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := traceKey(ctx, tx, traceID); err != nil {
			return err
		}
		if overrides != "" {
			if err := setValid(ctx, tx, traceID, overrides, false); err != nil {
				return err
			}
		}
		return a.insert(ctx, tx, name, s.now().UnixMilli())
	})
	return a, err
}

func (a *Assessment) insert(ctx context.Context, tx *store.Tx, name string, now int64) error {
	b, err := a.encode()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO trace_assessments (assessment_id, trace_id, name, create_time, last_update_time, body)
		VALUES (?, ?, ?, ?, ?, ?)`, a.ID, a.TraceID, name, now, now, b)
	return err
}

func (a *Assessment) encode() (string, error) {
	b, err := json.Marshal(a.Body)
	if err != nil {
		return "", err
	}
	if len(b) > MaxAssessmentBytes {
		return "", fault.New(fault.TooLarge, "The assessment is %d bytes; at most %d are allowed", len(b), MaxAssessmentBytes)
	}
	return string(b), nil
}

func (a *Assessment) name() (string, error) {
	var name string
	if err := json.Unmarshal(a.Body["assessment_name"], &name); err != nil || name == "" {
		return "", fault.Missing("assessment_name")
	}
	if len(name) > MaxKeyLength {
		return "", fault.Invalidf("The assessment name is %d characters long; at most %d are allowed", len(name), MaxKeyLength)
	}
	return name, nil
}

func (a *Assessment) set(field string, v any) {
	b, _ := json.Marshal(v)
	a.Body[field] = b
}

func (s *Service) stamp() string { return s.now().UTC().Format(time.RFC3339Nano) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// GetAssessment returns one assessment of a trace.
func (s *Service) GetAssessment(ctx context.Context, traceID, id string) (*Assessment, error) {
	return getAssessment(ctx, s.db.Reader(), traceID, id)
}

func getAssessment(ctx context.Context, q store.Querier, traceID, id string) (*Assessment, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM trace_assessments WHERE trace_id = ? AND assessment_id = ?`, traceID, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFoundf("Assessment with ID '%s' not found in trace '%s'", clip(id), clip(traceID))
	}
	if err != nil {
		return nil, err
	}
	a := &Assessment{ID: id, TraceID: traceID}
	return a, json.Unmarshal([]byte(body), &a.Body)
}

// UpdateAssessment replaces the fields of an assessment that paths name (MLflow's
// update mask: assessment_name, feedback, expectation, rationale, metadata) with
// those of body.
func (s *Service) UpdateAssessment(ctx context.Context, traceID, id string, body map[string]json.RawMessage, paths []string) (*Assessment, error) {
	var out *Assessment
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		a, err := getAssessment(ctx, tx, traceID, id)
		if err != nil {
			return err
		}
		for _, p := range paths {
			field := snake(strings.TrimSpace(p))
			switch field {
			case "assessment_name", "feedback", "expectation", "rationale", "metadata", "span_id", "source":
			default:
				return fault.Invalidf("Invalid update mask path '%s': an assessment's assessment_name, feedback, expectation, rationale, metadata, span_id or source may be updated", clip(p))
			}
			if v, ok := body[field]; ok {
				a.Body[field] = v
			} else {
				delete(a.Body, field)
			}
		}
		if _, ok := a.Body["feedback"]; ok && contains(paths, "expectation") {
			delete(a.Body, "feedback")
		}
		if _, ok := a.Body["expectation"]; ok && contains(paths, "feedback") {
			delete(a.Body, "expectation")
		}
		name, err := a.name()
		if err != nil {
			return err
		}
		a.set("last_update_time", s.stamp())
		b, err := a.encode()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE trace_assessments SET name = ?, last_update_time = ?, body = ? WHERE assessment_id = ?`,
			name, s.now().UnixMilli(), b, id)
		out = a
		return err
	})
	return out, err
}

func contains(paths []string, field string) bool {
	for _, p := range paths {
		if snake(strings.TrimSpace(p)) == field {
			return true
		}
	}
	return false
}

// snake turns a field mask path's camelCase (protobuf's JSON) into the field's name.
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DeleteAssessment deletes an assessment; the one it overrode, if any, is valid again.
func (s *Service) DeleteAssessment(ctx context.Context, traceID, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		a, err := getAssessment(ctx, tx, traceID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM trace_assessments WHERE assessment_id = ?`, id); err != nil {
			return err
		}
		var overrides string
		if json.Unmarshal(a.Body["overrides"], &overrides) == nil && overrides != "" {
			return setValid(ctx, tx, traceID, overrides, true)
		}
		return nil
	})
}

func setValid(ctx context.Context, tx *store.Tx, traceID, id string, valid bool) error {
	a, err := getAssessment(ctx, tx, traceID, id)
	if err != nil {
		return err
	}
	a.set("valid", valid)
	b, err := a.encode()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE trace_assessments SET body = ? WHERE assessment_id = ?`, b, id)
	return err
}

// loadAssessments attaches their assessments to the traces of byID.
func (s *Service) loadAssessments(ctx context.Context, in string, args []any, byID map[string]*Info) error {
	return store.ScanEach(ctx, s.db.Reader(), `SELECT trace_id, assessment_id, body FROM trace_assessments WHERE trace_id IN `+in+
		` ORDER BY trace_id, create_time, assessment_id`, args, func(rows *sql.Rows) error {
		var a Assessment
		var body string
		if err := rows.Scan(&a.TraceID, &a.ID, &body); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &a.Body); err != nil {
			return err
		}
		if info := byID[a.TraceID]; info != nil {
			info.Assessments = append(info.Assessments, a)
		}
		return nil
	})
}
