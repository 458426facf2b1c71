package traces

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"

	"github.com/mlship/mlship/internal/store"
)

// GetInfo returns a trace's info, tags, metadata and assessments.
func (s *Service) GetInfo(ctx context.Context, id string) (*Info, error) {
	infos, err := s.GetInfos(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, notFound(id)
	}
	return infos[0], nil
}

// GetInfos returns the infos of the traces that exist among ids, in the order of ids.
func (s *Service) GetInfos(ctx context.Context, ids []string) ([]*Info, error) {
	byID := make(map[string]*Info, len(ids))
	r := s.db.Reader()
	for chunk := range slices.Chunk(ids, s.db.Dialect().MaxParams()) {
		args := anys(chunk)
		in := "(" + store.Placeholders(len(chunk)) + ")"
		byKey := map[int64]*Info{}
		var keys []any
		err := store.ScanEach(ctx, r, `SELECT trace_key, trace_id, experiment_id, client_request_id, request_time, execution_duration,
			state, request_preview, response_preview FROM trace_info WHERE trace_id IN `+in, args, func(rows *sql.Rows) error {
			var in Info
			var key, exp int64
			var client, reqPrev, respPrev sql.NullString
			var dur sql.NullInt64
			if err := rows.Scan(&key, &in.TraceID, &exp, &client, &in.RequestTime, &dur, &in.State, &reqPrev, &respPrev); err != nil {
				return err
			}
			in.ExperimentID = strconv.FormatInt(exp, 10)
			in.ClientRequestID, in.RequestPreview, in.ResponsePreview = client.String, reqPrev.String, respPrev.String
			if dur.Valid {
				in.ExecutionDuration = &dur.Int64
			}
			in.Tags, in.Metadata = map[string]string{}, map[string]string{}
			byID[in.TraceID] = &in
			byKey[key] = &in
			keys = append(keys, key)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			continue
		}
		for table, field := range map[string]func(*Info) map[string]string{
			"trace_tags":     func(i *Info) map[string]string { return i.Tags },
			"trace_metadata": func(i *Info) map[string]string { return i.Metadata },
		} {
			err := store.ScanEach(ctx, r, `SELECT trace_key, key, value FROM `+table+` WHERE trace_key IN (`+
				store.Placeholders(len(keys))+`)`, keys, func(rows *sql.Rows) error {
				var key int64
				var k, v string
				if err := rows.Scan(&key, &k, &v); err != nil {
					return err
				}
				if info := byKey[key]; info != nil {
					field(info)[k] = v
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if err := s.loadAssessments(ctx, in, args, byID); err != nil {
			return nil, err
		}
	}
	out := make([]*Info, 0, len(byID))
	for _, id := range ids {
		if info := byID[id]; info != nil {
			out = append(out, info)
			delete(byID, id) // an id asked twice is answered once
		}
	}
	return out, nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ExperimentOf returns the experiment a trace belongs to.
func (s *Service) ExperimentOf(ctx context.Context, id string) (string, error) {
	var exp int64
	err := s.db.Reader().QueryRowContext(ctx, `SELECT experiment_id FROM trace_info WHERE trace_id = ?`, id).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound(id)
	}
	return strconv.FormatInt(exp, 10), err
}

// Spans returns the spans stored for the traces, as OTLP protobuf bytes, by trace id,
// each trace's in the order they started.
func (s *Service) Spans(ctx context.Context, ids []string) (map[string][][]byte, error) {
	out := make(map[string][][]byte, len(ids))
	for chunk := range slices.Chunk(ids, s.db.Dialect().MaxParams()) {
		err := store.ScanEach(ctx, s.db.Reader(), `SELECT i.trace_id, s.content FROM trace_info i
			JOIN trace_spans s ON s.trace_key = i.trace_key WHERE i.trace_id IN (`+store.Placeholders(len(chunk))+`)
			ORDER BY i.trace_id, s.start_time_unix_nano, s.span_id`, anys(chunk), func(rows *sql.Rows) error {
			var id string
			var content []byte
			if err := rows.Scan(&id, &content); err != nil {
				return err
			}
			out[id] = append(out[id], content)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
