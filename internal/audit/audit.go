// Package audit owns the audit trail: who changed which object, how, when, from which
// address, and with what outcome. A change's record is written in the transaction of
// the change itself (store.Trail); a refused or failed request is recorded on its own
// after its answer. Records name objects by kind and name, never by a foreign key, so
// they outlive what they describe; they are kept for a retention period, then pruned.
package audit

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Outcomes of a request.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
	Denied    = "denied"
)

// Kinds of object.
const (
	Experiment      = "experiment"
	Run             = "run"
	RegisteredModel = "registered_model"
	ModelVersion    = "model_version"
	LoggedModel     = "logged_model"
	Artifact        = "artifact"
	Dataset         = "dataset"
	Deployment      = "deployment"
	Benchmark       = "benchmark"
	Alias           = "alias"
	User            = "user"
	Token           = "token"
	Team            = "team"
	Permission      = "permission"
	Content         = "content"
	Webhook         = "webhook"
	Trace           = "trace"
)

// Entry is one record of the trail.
type Entry struct {
	ID         int64  `json:"id"`
	At         int64  `json:"at"` // milliseconds since the epoch
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

// Options configure a Log.
type Options struct {
	// Retention is how long records are kept; 0 keeps them forever.
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Log is the audit trail over the metadata database.
type Log struct {
	db   *store.DB
	opts Options

	mu     sync.Mutex
	recent map[string]time.Time // refusals recorded in the last minute, by actor, address and route
}

// refusalWindow is how often one actor, from one address, has a refusal of one route
// recorded: a flood of failed sign-ins must not fill the trail.
const refusalWindow = time.Minute

// maxRecent bounds the refusals remembered; past it, new refusals go unrecorded until
// the window frees room.
const maxRecent = 100_000

// New returns the trail over db.
func New(db *store.DB, opts Options) *Log {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Log{db: db, opts: opts, recent: map[string]time.Time{}}
}

// Trail returns the store.Trail that writes e with the first change made under a
// context carrying it, stamped with the time of that write, with the object and action
// store.Describe gave it.
func (l *Log) Trail(e Entry) *store.Trail {
	var t *store.Trail
	t = store.NewTrail(func(ctx context.Context, tx *store.Tx) error {
		e.Outcome = Succeeded
		e.Object, e.Action = t.Described(e.Object, e.Action)
		return l.insert(ctx, tx, e)
	})
	return t
}

// Record writes e on its own, for a request that committed no change with its record.
// A refusal (outcome denied) is recorded at most once a minute per actor, address and
// route; the others return without writing.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.Outcome == Denied && !l.firstRefusal(e) {
		return nil
	}
	return l.db.Write(ctx, func(tx *store.Tx) error { return l.insert(ctx, tx, e) })
}

func (l *Log) firstRefusal(e Entry) bool {
	now := l.opts.Now()
	key := e.Actor + "\x00" + e.Address + "\x00" + e.Route
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.recent[key]; ok && now.Sub(at) < refusalWindow {
		return false
	}
	if len(l.recent) >= maxRecent {
		for k, at := range l.recent {
			if now.Sub(at) >= refusalWindow {
				delete(l.recent, k)
			}
		}
		if len(l.recent) >= maxRecent {
			return false
		}
	}
	l.recent[key] = now
	return true
}

func (l *Log) insert(ctx context.Context, tx *store.Tx, e Entry) error {
	if e.At == 0 {
		e.At = l.opts.Now().UnixMilli()
	}
	var token sql.NullInt64
	if e.TokenID != 0 {
		token = sql.NullInt64{Int64: e.TokenID, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, token_id, address, route, action,
		object_kind, object, outcome, status, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At, e.Actor, token, e.Address, e.Route, e.Action, e.ObjectKind, e.Object, e.Outcome, e.Status, e.RequestID)
	return err
}

// Prune deletes the records older than the retention period and returns how many.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	if l.opts.Retention <= 0 {
		return 0, nil
	}
	before := l.opts.Now().Add(-l.opts.Retention).UnixMilli()
	var n int64
	err := l.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE at < ?`, before)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Filter selects records; zero fields select all.
type Filter struct {
	Actor      string
	ObjectKind string
	Object     string
	Action     string
	Outcome    string
	Since      int64 // milliseconds since the epoch, inclusive
	Until      int64 // exclusive
	// Before pages backwards: only records with a smaller id (the last page's
	// NextPageToken).
	Before int64
	Limit  int
}

// MaxLimit caps the records one query returns.
const MaxLimit = 1000

// Page is records, newest first, and the token of the next (older) page.
type Page struct {
	Entries       []Entry `json:"entries"`
	NextPageToken string  `json:"next_page_token,omitempty"`
}

// Query returns the records f selects, newest first.
func (l *Log) Query(ctx context.Context, f Filter) (Page, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		return Page{}, fault.Invalidf("max_results must be between 1 and %d", MaxLimit)
	}
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("actor", f.Actor)
	eq("object_kind", f.ObjectKind)
	eq("object", f.Object)
	eq("action", f.Action)
	eq("outcome", f.Outcome)
	for _, c := range []struct {
		cond string
		v    int64
	}{{"at >= ?", f.Since}, {"at < ?", f.Until}, {"id < ?", f.Before}} {
		if c.v != 0 {
			where = append(where, c.cond)
			args = append(args, c.v)
		}
	}
	q := `SELECT id, at, actor, token_id, address, route, action, object_kind, object, outcome, status, request_id FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	rows, err := l.db.Reader().QueryContext(ctx, q, args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	p := Page{Entries: []Entry{}}
	for rows.Next() {
		var e Entry
		var token sql.NullInt64
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &token, &e.Address, &e.Route, &e.Action,
			&e.ObjectKind, &e.Object, &e.Outcome, &e.Status, &e.RequestID); err != nil {
			return Page{}, err
		}
		e.TokenID = token.Int64
		p.Entries = append(p.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(p.Entries) > f.Limit {
		p.Entries = p.Entries[:f.Limit]
		p.NextPageToken = strconv.FormatInt(p.Entries[f.Limit-1].ID, 10)
	}
	return p, nil
}

// Kinds are the kinds of object the trail names.
var Kinds = []string{Experiment, Run, RegisteredModel, ModelVersion, LoggedModel, Artifact, Dataset,
	Deployment, Benchmark, Alias, User, Token, Team, Permission, Content, Webhook, Trace}

// Outcomes are the outcomes a record may have.
var Outcomes = []string{Succeeded, Failed, Denied}
