package serving

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
	"github.com/mlship/mlship/internal/store"
)

// PayloadStore is the payload log in the metadata database. Records are queued and
// written in groups by one goroutine, so serving never waits on the database; when the
// queue is full a record is dropped (and counted) rather than slow a request.
type PayloadStore struct {
	db      *store.DB
	logger  *slog.Logger
	queue   chan PayloadRecord
	keep    int
	done    chan struct{}
	closing sync.Once
}

const (
	payloadQueue      = 4096
	payloadGroup      = 256
	defaultKeepPerDep = 100_000
)

var _ PayloadSink = (*PayloadStore)(nil)

// NewPayloadStore starts the payload log writer. It keeps the newest keep records of
// each deployment (0: 100,000).
func NewPayloadStore(db *store.DB, keep int, logger *slog.Logger) *PayloadStore {
	if keep <= 0 {
		keep = defaultKeepPerDep
	}
	p := &PayloadStore{db: db, logger: logger, keep: keep, queue: make(chan PayloadRecord, payloadQueue), done: make(chan struct{})}
	go p.loop()
	return p
}

// Record queues rec; it returns false when the queue is full and rec was dropped.
func (p *PayloadStore) Record(rec PayloadRecord) bool {
	select {
	case p.queue <- rec:
		return true
	default:
		return false
	}
}

// Close writes what is queued and stops the writer.
func (p *PayloadStore) Close() {
	p.closing.Do(func() { close(p.queue) })
	<-p.done
}

func (p *PayloadStore) loop() {
	defer close(p.done)
	written := map[string]int{}
	for rec := range p.queue {
		group := []PayloadRecord{rec}
	more:
		for len(group) < payloadGroup {
			select {
			case r, ok := <-p.queue:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		if err := p.write(group, written); err != nil {
			p.logger.Warn("payload log write failed; records dropped", "records", len(group), "err", err)
		}
	}
}

func (p *PayloadStore) write(group []PayloadRecord, written map[string]int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := make([]any, 0, len(group)*10)
	for _, r := range group {
		args = append(args, r.Deployment, r.Model, r.Version, r.Role, r.RequestID, r.Time.UnixMilli(),
			r.Latency.Microseconds(), string(encodeTensors("inputs", r.Request.Inputs)), encodeResponse(r.Response), r.Error)
		written[r.Deployment]++
	}
	var prune []string
	for dep, n := range written {
		if n >= p.keep/10+1 {
			prune = append(prune, dep)
			written[dep] = 0
		}
	}
	return p.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO payload_log (deployment, model, version, role, request_id, time_ms,
			latency_us, request, response, error) VALUES `+store.RowsOf(10, len(group)), args...)
		if err != nil {
			return err
		}
		for _, dep := range prune {
			if _, err := tx.ExecContext(ctx, `DELETE FROM payload_log WHERE deployment = ? AND id <= (
				SELECT id FROM payload_log WHERE deployment = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, dep, dep, p.keep); err != nil {
				return err
			}
		}
		return nil
	})
}

func encodeResponse(r *runtime.Response) string {
	if r == nil {
		return ""
	}
	return string(encodeTensors("outputs", r.Outputs))
}

// encodeTensors writes tensors in the Open Inference Protocol's shape:
// {"inputs": [{"name", "datatype", "shape", "data"}]}, data flat.
func encodeTensors(key string, ts []runtime.Tensor) []byte {
	b := append(make([]byte, 0, 256), `{"`+key+`":[`...)
	for i := range ts {
		t := &ts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = tensorjson.AppendString(b, []byte(t.Name))
		b = append(b, `,"datatype":"`+string(t.Datatype)+`","shape":`...)
		shape, _ := json.Marshal(t.Shape)
		b = append(b, shape...)
		b = append(b, `,"data":`...)
		b = appendFiniteFlat(b, t)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendFiniteFlat writes a tensor's elements as a flat JSON array, with null for NaN
// and the infinities, so that the log holds strict JSON.
func appendFiniteFlat(b []byte, t *runtime.Tensor) []byte {
	float := t.Datatype == runtime.FP16 || t.Datatype == runtime.BF16 || t.Datatype == runtime.FP32 || t.Datatype == runtime.FP64
	b = append(b, '[')
	for i := range int(max(runtime.Elements(t.Shape), 0)) {
		if i > 0 {
			b = append(b, ',')
		}
		if float {
			if f := t.Float64At(i); math.IsNaN(f) || math.IsInf(f, 0) {
				b = append(b, "null"...)
				continue
			}
		}
		b = tensorjson.AppendElement(b, t, i)
	}
	return append(b, ']')
}

// StoredPayload is one record of the payload log as the API lists it.
type StoredPayload struct {
	ID        int64           `json:"id"`
	Model     string          `json:"model"`
	Version   string          `json:"version"`
	Role      string          `json:"role"`
	RequestID string          `json:"request_id"`
	TimeMs    int64           `json:"time_ms"`
	LatencyUs int64           `json:"latency_us"`
	Request   json.RawMessage `json:"request"`
	Response  json.RawMessage `json:"response,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// List returns a deployment's records from sinceMs on, oldest first, at most limit,
// starting after the record afterID (for paging).
func (p *PayloadStore) List(ctx context.Context, deployment string, sinceMs, afterID int64, limit int) ([]StoredPayload, error) {
	out := []StoredPayload{}
	err := store.ScanEach(ctx, p.db.Reader(), `SELECT id, model, version, role, request_id, time_ms, latency_us,
		request, response, error FROM payload_log WHERE deployment = ? AND time_ms >= ? AND id > ? ORDER BY id LIMIT ?`,
		[]any{deployment, sinceMs, afterID, limit}, func(rows *sql.Rows) error {
			var s StoredPayload
			var req, resp string
			if err := rows.Scan(&s.ID, &s.Model, &s.Version, &s.Role, &s.RequestID, &s.TimeMs, &s.LatencyUs, &req, &resp, &s.Error); err != nil {
				return err
			}
			s.Request = json.RawMessage(req)
			if strings.TrimSpace(resp) != "" {
				s.Response = json.RawMessage(resp)
			}
			out = append(out, s)
			return nil
		})
	return out, err
}
