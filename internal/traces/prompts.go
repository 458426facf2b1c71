package traces

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// TagLinkedPrompts lists the prompt versions a trace used, as MLflow's client writes it:
// a JSON list of {"name": ..., "version": ...}, the version a string.
const TagLinkedPrompts = "mlflow.linkedPrompts"

// MaxLinkedPrompts caps the prompt versions linked to a trace in one request.
const MaxLinkedPrompts = 100

// PromptVersion names a version of a registered prompt.
type PromptVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// LinkPrompts links prompt versions to a trace (MLflow's LinkPromptsToTrace): they join
// its mlflow.linkedPrompts tag, which MLflow's client also sets and the filter
// prompt = 'name/version' reads. Versions already linked are left as they are; the
// prompts are not looked up, as MLflow does not.
func (s *Service) LinkPrompts(ctx context.Context, traceID string, versions []PromptVersion) error {
	if len(versions) > MaxLinkedPrompts {
		return fault.Invalidf("At most %d prompt versions may be linked at once; got %d", MaxLinkedPrompts, len(versions))
	}
	for _, v := range versions {
		if v.Name == "" || v.Version == "" {
			return fault.Invalidf("Every prompt version needs a name and a version")
		}
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		var key int64
		var current sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT i.trace_key, (SELECT value FROM trace_tags WHERE trace_key = i.trace_key AND key = ?)
			FROM trace_info i WHERE i.trace_id = ?`, TagLinkedPrompts, traceID).Scan(&key, &current)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(traceID)
		}
		if err != nil {
			return err
		}
		var linked []PromptVersion
		if current.Valid && json.Unmarshal([]byte(current.String), &linked) != nil {
			return fault.Invalidf("Invalid format for '%s' tag: %s", TagLinkedPrompts, clip(current.String))
		}
		n := len(linked)
		for _, v := range versions {
			if !containsVersion(linked, v) {
				linked = append(linked, v)
			}
		}
		if current.Valid && len(linked) == n {
			return nil
		}
		value := linkedPromptsJSON(linked)
		if len(value) > MaxValueLength {
			return fault.Invalidf("The trace's linked prompts would take %d characters; a tag holds at most %d", len(value), MaxValueLength)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO trace_tags (trace_key, key, value) VALUES (?, ?, ?)
			ON CONFLICT (trace_key, key) DO UPDATE SET value = excluded.value`, key, TagLinkedPrompts, value)
		return err
	})
}

func containsVersion(list []PromptVersion, v PromptVersion) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// linkedPromptsJSON writes the tag as MLflow's client does (Python's json.dumps:
// ", " and ": " between items).
func linkedPromptsJSON(list []PromptVersion) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"name": ` + jsonString(v.Name) + `, "version": ` + jsonString(v.Version) + `}`)
	}
	b.WriteByte(']')
	return b.String()
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// promptCondition renders prompt = 'name/version': the trace's linked prompts hold that
// version, in the tag's JSON as MLflow's client or LinkPrompts writes it.
func promptCondition(value string) (string, []any, error) {
	name, version, ok := strings.Cut(value, "/")
	if !ok || strings.Contains(version, "/") {
		return "", nil, fault.Invalidf(`Invalid prompts filter value '%s'. Expected format: prompt = "name/version"`, clip(value))
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	n, v := esc.Replace(jsonString(name)), esc.Replace(jsonString(version))
	spaced := `%{"name": ` + n + `, "version": ` + v + `}%`
	compact := `%{"name":` + n + `,"version":` + v + `}%`
	return `EXISTS (SELECT 1 FROM trace_tags x WHERE x.trace_key = t.trace_key AND x.key = ? AND
		(x.value LIKE ? ESCAPE '\' OR x.value LIKE ? ESCAPE '\'))`, []any{TagLinkedPrompts, spaced, compact}, nil
}
