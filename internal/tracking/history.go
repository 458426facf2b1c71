package tracking

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/store"
)

// Limits of a chart's history.
const (
	DefaultHistoryPoints = 1000
	MaxHistoryPoints     = 10000
)

// The axes a history is charted along.
const (
	AxisStep = "step"
	AxisTime = "time"
)

// HistoryMethod names how a long history is cut down: per bucket of the x axis, its
// first and last points and its minimum and maximum, so that no spike disappears.
const HistoryMethod = "min-max-first-last"

// HistoryQuery asks for one metric's history, fit to a chart of at most Points buckets.
type HistoryQuery struct {
	RunID, Key string
	X          string // AxisStep or AxisTime
	From, To   *int64 // an inclusive range of X; nil: unbounded
	Points     int    // 1 to MaxHistoryPoints
}

// HistoryPoint is one logged point.
type HistoryPoint struct {
	Step      int64           `json:"step"`
	Timestamp int64           `json:"timestamp"`
	Value     protojson.Float `json:"value"`
}

// HistoryBucket is what a stretch of the x axis holds: its first and last x, the values
// at them, the smallest and largest values (NaN only when every value is) and how many
// points.
type HistoryBucket struct {
	X     int64           `json:"x"`
	XEnd  int64           `json:"x_end"`
	First protojson.Float `json:"first"`
	Min   protojson.Float `json:"min"`
	Max   protojson.Float `json:"max"`
	Last  protojson.Float `json:"last"`
	Count int64           `json:"count"`

	firstTie, lastTie int64 // the other axis, which orders points of equal x
}

// History is a metric's history as charted: the points themselves when there are no
// more than asked for, buckets otherwise.
type History struct {
	Key         string          `json:"key"`
	X           string          `json:"x"`
	TotalPoints int64           `json:"total_points"`
	Downsampled bool            `json:"downsampled"`
	Method      string          `json:"method"` // "raw" or HistoryMethod
	Points      []HistoryPoint  `json:"points,omitempty"`
	Buckets     []HistoryBucket `json:"buckets,omitempty"`
}

func (q *HistoryQuery) validate() error {
	if err := ValidateRunID(q.RunID); err != nil {
		return err
	}
	if err := Required("key", q.Key); err != nil {
		return err
	}
	switch {
	case q.X == "":
		q.X = AxisStep
	case q.X != AxisStep && q.X != AxisTime:
		return fault.Invalidf("x must be %q or %q, got %q", AxisStep, AxisTime, q.X)
	}
	if q.Points < 1 || q.Points > MaxHistoryPoints {
		return fault.Invalidf("points must be between 1 and %d, got %d", MaxHistoryPoints, q.Points)
	}
	if q.From != nil && q.To != nil && *q.From > *q.To {
		return fault.Invalidf("from (%d) is after to (%d)", *q.From, *q.To)
	}
	return nil
}

// columns are the x column and the one that orders points of equal x.
func (q *HistoryQuery) columns() (x, tie string) {
	if q.X == AxisTime {
		return "timestamp", "step"
	}
	return "step", "timestamp"
}

// where is the query's filter on metrics and its arguments.
func (q *HistoryQuery) where() (string, []any) {
	x, _ := q.columns()
	w, args := ` WHERE run_uuid = ? AND key = ?`, []any{q.RunID, q.Key}
	if q.From != nil {
		w += ` AND ` + x + ` >= ?`
		args = append(args, *q.From)
	}
	if q.To != nil {
		w += ` AND ` + x + ` <= ?`
		args = append(args, *q.To)
	}
	return w, args
}

// MetricHistory returns a metric's history for a chart. The history is read as a
// stream in the order the store keeps it, never held whole: a million points cost no
// more memory than the answer.
func (s *Service) MetricHistory(ctx context.Context, q HistoryQuery) (*History, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	h := &History{Key: q.Key, X: q.X, Method: "raw", Points: []HistoryPoint{}}
	lo, hi, err := s.historyExtent(ctx, &q)
	if err != nil || !lo.Valid {
		return h, err
	}
	buckets := make([]HistoryBucket, q.Points)
	if h.Points, err = s.foldHistory(ctx, &q, lo.Int64, hi.Int64, buckets); err != nil {
		return nil, err
	}
	for _, b := range buckets {
		h.TotalPoints += b.Count
	}
	if h.TotalPoints <= int64(q.Points) {
		sortPoints(h.Points, q.X)
		return h, nil
	}
	h.Points, h.Downsampled, h.Method = nil, true, HistoryMethod
	for _, b := range buckets {
		if b.Count > 0 {
			h.Buckets = append(h.Buckets, b)
		}
	}
	return h, nil
}

// historyExtent returns the smallest and largest x in the range: each is one seek along
// time, which leads the metrics table's key; along steps, a scan inside the engine.
func (s *Service) historyExtent(ctx context.Context, q *HistoryQuery) (lo, hi sql.NullInt64, err error) {
	x, _ := q.columns()
	where, args := q.where()
	query := `SELECT MIN(step), MAX(step) FROM metrics` + where
	if q.X == AxisTime { // two seeks rather than one scan
		query, args = `SELECT (SELECT MIN(`+x+`) FROM metrics`+where+`), (SELECT MAX(`+x+`) FROM metrics`+where+`)`, append(args, args...)
	}
	err = s.reader().QueryRowContext(ctx, query, args...).Scan(&lo, &hi)
	return lo, hi, store.Classify(ctx, err)
}

// foldHistory splits [lo, hi] into len(buckets) equal stretches and folds every point
// into its stretch in one pass, without sorting; it also returns the points themselves
// while there are no more than buckets.
func (s *Service) foldHistory(ctx context.Context, q *HistoryQuery, lo, hi int64, buckets []HistoryBucket) ([]HistoryPoint, error) {
	where, args := q.where()
	n := len(buckets)
	span := float64(uint64(hi)-uint64(lo)) + 1
	raw := []HistoryPoint{}
	err := store.ScanEach(ctx, s.reader(), `SELECT step, timestamp, value, is_nan FROM metrics`+where, args,
		func(rows *sql.Rows) error {
			var p HistoryPoint
			var v float64
			var nan int64
			if err := rows.Scan(&p.Step, &p.Timestamp, &v, &nan); err != nil {
				return err
			}
			p.Value = metricValue(v, nan != 0)
			x, tie := p.Step, p.Timestamp
			if q.X == AxisTime {
				x, tie = tie, x
			}
			i := int(float64(uint64(x)-uint64(lo)) / span * float64(n))
			buckets[min(max(i, 0), n-1)].add(x, tie, p.Value)
			if len(raw) <= n {
				raw = append(raw, p)
			}
			return nil
		})
	return raw, err
}

// sortPoints orders points along the x axis, then the other, then by value.
func sortPoints(ps []HistoryPoint, axis string) {
	slices.SortFunc(ps, func(a, b HistoryPoint) int {
		ax, at, bx, bt := a.Step, a.Timestamp, b.Step, b.Timestamp
		if axis == AxisTime {
			ax, at, bx, bt = at, ax, bt, bx
		}
		if c := cmp.Compare(ax, bx); c != 0 {
			return c
		}
		if c := cmp.Compare(at, bt); c != 0 {
			return c
		}
		return cmp.Compare(float64(a.Value), float64(b.Value))
	})
}

func (b *HistoryBucket) add(x, tie int64, v protojson.Float) {
	if b.Count == 0 {
		*b = HistoryBucket{X: x, XEnd: x, First: v, Last: v, Min: v, Max: v, firstTie: tie, lastTie: tie}
	}
	b.Count++
	if x < b.X || (x == b.X && tie < b.firstTie) {
		b.X, b.firstTie, b.First = x, tie, v
	}
	if x > b.XEnd || (x == b.XEnd && tie >= b.lastTie) {
		b.XEnd, b.lastTie, b.Last = x, tie, v
	}
	f := float64(v)
	if math.IsNaN(f) {
		return
	}
	if math.IsNaN(float64(b.Min)) || f < float64(b.Min) {
		b.Min = v
	}
	if math.IsNaN(float64(b.Max)) || f > float64(b.Max) {
		b.Max = v
	}
}
