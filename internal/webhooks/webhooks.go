// Package webhooks owns webhooks: MLflow's webhook API (a URL, the events it follows, a
// secret to sign with) and the delivery of events to them. An event is recorded in an
// outbox table by the transaction of the change that caused it (a registry change, a
// gate verdict, a drift window), so that no committed change goes unannounced and no
// rolled-back one is announced; a dispatcher turns each event into one delivery job per
// subscribed webhook on the job queue, which posts it signed as MLflow signs it,
// retrying with exponential backoff. Every connection goes through the server's
// outbound policy.
package webhooks

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/netguard"
	"github.com/mlship/mlship/internal/store"
)

// Statuses of a webhook, as MLflow names them.
const (
	StatusActive   = "ACTIVE"
	StatusDisabled = "DISABLED"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second // MLflow's MLFLOW_WEBHOOK_REQUEST_TIMEOUT
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second // MLflow's backoff factor: 1 s, 2 s, 4 s, ...
	maxBackoff         = 10 * time.Minute
	defaultSweep       = 5 * time.Second
)

// Options configure a Service.
type Options struct {
	DB *store.DB
	// Queue runs the deliveries; New adds its worker, the caller opens and starts it.
	Queue *jobs.Queue
	// Outbound says which non-public destinations webhooks may reach; nil allows public
	// addresses only.
	Outbound *netguard.Policy
	// Key seals the webhooks' secrets (32 bytes). Servers sharing a database must share it.
	Key    []byte
	Logger *slog.Logger
	// Timeout bounds one delivery attempt (default DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one delivery (default DefaultMaxAttempts).
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled at each further one up to ten
	// minutes (default DefaultBackoff).
	Backoff time.Duration
	// Sweep is how often the outbox is read for events not yet dispatched, besides after
	// each change this server commits (default 5 s): events another server committed
	// and did not dispatch (it stopped) are found by the next sweep.
	Sweep time.Duration
	// Client posts the deliveries; default a client whose connections Outbound guards.
	Client *http.Client
}

// Service keeps webhooks and delivers events to them.
type Service struct {
	db     *store.DB
	opts   Options
	seal   *sealer
	logger *slog.Logger
	client *http.Client
	kick   chan struct{}
	now    func() time.Time
}

// New returns the service and adds its delivery worker to opts.Queue.
func New(opts Options) (*Service, error) {
	seal, err := newSealer(opts.Key)
	if err != nil {
		return nil, err
	}
	opts.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, DefaultMaxAttempts)
	opts.Backoff = cmp.Or(opts.Backoff, DefaultBackoff)
	opts.Sweep = cmp.Or(opts.Sweep, defaultSweep)
	s := &Service{db: opts.DB, opts: opts, seal: seal, logger: cmp.Or(opts.Logger, slog.Default()),
		client: opts.Client, kick: make(chan struct{}, 1), now: time.Now}
	if s.client == nil {
		s.client = opts.Outbound.Client(opts.Timeout)
	}
	if opts.Queue != nil {
		if err := s.UseQueue(opts.Queue); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// UseQueue makes q run the deliveries: call it before q opens, when the queue is made
// after the service.
func (s *Service) UseQueue(q *jobs.Queue) error {
	s.opts.Queue = q
	return jobs.AddWorker(q, &deliverWorker{s: s})
}

// Webhook is a webhook as the API shows it: never its secret.
type Webhook struct {
	ID          string
	Name        string
	Description string
	URL         string
	Events      []string // "entity.action"
	Status      string
	CreatedAt   int64
	UpdatedAt   int64
}

// Input is a webhook to create, or the changes to one: nil fields are left as they are.
type Input struct {
	Name        *string
	Description *string
	URL         *string
	Events      []string
	Secret      *string
	Status      *string
}

// nameRE is MLflow's rule for webhook names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

func validateName(name string) error {
	if len(name) > 63 || !nameRE.MatchString(name) {
		return fault.Invalidf("Webhook name %q is invalid. It must start and end with a letter or digit, "+
			"be less than 63 characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-).", name)
	}
	return nil
}

func validateEvents(events []string) error {
	if len(events) == 0 {
		return fault.Invalidf("Webhook events must be a non-empty list of events")
	}
	for _, e := range events {
		if !ValidEvent(e) {
			return fault.Invalidf("Unknown webhook event %q; events are %s", e, strings.Join(Events(), ", "))
		}
	}
	return nil
}

func validateStatus(status string) error {
	if status != StatusActive && status != StatusDisabled {
		return fault.Invalidf("Invalid webhook status %q: ACTIVE or DISABLED", status)
	}
	return nil
}

// CheckURL refuses a webhook URL that is not http or https, that carries credentials,
// or whose host is (or resolves to) an address the outbound policy refuses. Delivery
// checks the address again on every connection: a name may resolve elsewhere later.
func (s *Service) CheckURL(ctx context.Context, raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fault.Invalidf("Webhook URL cannot be empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fault.Invalidf("Invalid webhook URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fault.Invalidf("Invalid webhook URL scheme: %q. Allowed schemes are: http, https.", u.Scheme)
	}
	if u.Hostname() == "" {
		return fault.Invalidf("Webhook URL must include a hostname: %q", raw)
	}
	if u.User != nil {
		return fault.Invalidf("Webhook URL must not carry credentials: use the webhook's secret to authenticate deliveries")
	}
	refused := fault.Invalidf("Webhook URL %q: the server does not connect to loopback, private or link-local "+
		"addresses unless the operator allows them with --allowed-outbound", u.Redacted())
	if err := s.opts.Outbound.CheckURL(raw); err != nil {
		return refused
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", u.Hostname())
	if err != nil {
		return nil // not resolvable now: checked again at each connection
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(net.JoinHostPort(a.Unmap().String(), port))
		if err != nil || s.opts.Outbound.Check(ap) != nil {
			return refused
		}
	}
	return nil
}

// Create makes a webhook.
func (s *Service) Create(ctx context.Context, in Input) (*Webhook, error) {
	w := &Webhook{ID: newID(), Status: StatusActive, Events: dedupe(in.Events)}
	w.Name, w.URL, w.Description = deref(in.Name), deref(in.URL), deref(in.Description)
	if in.Status != nil && *in.Status != "" {
		w.Status = *in.Status
	}
	if err := s.validate(ctx, w); err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(w.ID, deref(in.Secret))
	if err != nil {
		return nil, err
	}
	w.CreatedAt = s.now().UnixMilli()
	w.UpdatedAt = w.CreatedAt
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, name, description, url, secret, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, w.ID, w.Name, w.Description, w.URL, sealed, w.Status, w.CreatedAt, w.UpdatedAt)
		if err != nil {
			return err
		}
		return setEvents(ctx, tx, w.ID, w.Events)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Service) validate(ctx context.Context, w *Webhook) error {
	if err := validateName(w.Name); err != nil {
		return err
	}
	if err := s.CheckURL(ctx, w.URL); err != nil {
		return err
	}
	if err := validateEvents(w.Events); err != nil {
		return err
	}
	return validateStatus(w.Status)
}

func setEvents(ctx context.Context, tx *store.Tx, id string, events []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE webhook_id = ?`, id); err != nil {
		return err
	}
	for i, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (webhook_id, event, position) VALUES (?, ?, ?)`, id, e, i); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a webhook; a missing one is a fault.NotFound error.
func (s *Service) Get(ctx context.Context, id string) (*Webhook, error) {
	w, _, err := s.get(ctx, s.db.Reader(), id)
	return w, err
}

// get returns a webhook and its sealed secret.
func (s *Service) get(ctx context.Context, q store.Querier, id string) (*Webhook, string, error) {
	w := &Webhook{ID: id}
	var sealed string
	err := q.QueryRowContext(ctx, `SELECT name, description, url, secret, status, created_at, updated_at FROM webhooks WHERE id = ?`,
		id).Scan(&w.Name, &w.Description, &w.URL, &sealed, &w.Status, &w.CreatedAt, &w.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fault.NotFoundf("Webhook with ID %s not found.", id)
	}
	if err != nil {
		return nil, "", err
	}
	w.Events, err = events(ctx, q, id)
	return w, sealed, err
}

func events(ctx context.Context, q store.Querier, id string) ([]string, error) {
	var out []string
	err := store.ScanEach(ctx, q, `SELECT event FROM webhook_events WHERE webhook_id = ? ORDER BY position`, []any{id}, func(r *sql.Rows) error {
		var e string
		err := r.Scan(&e)
		out = append(out, e)
		return err
	})
	return out, err
}

// List returns up to max webhooks (1 to 1000, default 100), newest first, from the
// page token's position, and the token of the next page ("" when none).
func (s *Service) List(ctx context.Context, max int, token string) ([]*Webhook, string, error) {
	if max == 0 {
		max = 100
	}
	if max < 1 || max > 1000 {
		return nil, "", fault.Invalidf("max_results must be between 1 and 1000.")
	}
	offset, err := parseToken(token)
	if err != nil {
		return nil, "", err
	}
	var ids []string
	err = store.ScanEach(ctx, s.db.Reader(), `SELECT id FROM webhooks ORDER BY created_at DESC, id LIMIT ? OFFSET ?`,
		[]any{max + 1, offset}, func(r *sql.Rows) error {
			var id string
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ids) > max {
		ids, next = ids[:max], pageToken(offset+max)
	}
	out := []*Webhook{}
	for _, id := range ids {
		w, err := s.Get(ctx, id)
		if fault.KindOf(err) == fault.NotFound {
			continue // deleted since
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, w)
	}
	return out, next, nil
}

// pageToken is MLflow's: base64 of {"offset": n}.
func pageToken(offset int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"offset": %d}`, offset))
}

func parseToken(token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	var t struct {
		Offset *int `json:"offset"`
	}
	b, err := base64.StdEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Offset == nil || *t.Offset < 0 {
		return 0, fault.Invalidf("Invalid page token %q", token)
	}
	return *t.Offset, nil
}

// Update changes a webhook: the fields in is given.
func (s *Service) Update(ctx context.Context, id string, in Input) (*Webhook, error) {
	w, _, err := s.get(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, err
	}
	if in.Name != nil && *in.Name != "" {
		w.Name = *in.Name
	}
	if in.URL != nil && *in.URL != "" {
		w.URL = *in.URL
	}
	if in.Description != nil {
		w.Description = *in.Description
	}
	if len(in.Events) > 0 {
		w.Events = dedupe(in.Events)
	}
	if in.Status != nil && *in.Status != "" {
		w.Status = *in.Status
	}
	if err := s.validate(ctx, w); err != nil {
		return nil, err
	}
	var sealed string
	secretGiven := 0
	if in.Secret != nil {
		secretGiven = 1
		if sealed, err = s.seal.seal(w.ID, *in.Secret); err != nil {
			return nil, err
		}
	}
	w.UpdatedAt = s.now().UnixMilli()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET name = ?, description = ?, url = ?, status = ?, updated_at = ?,
			secret = CASE WHEN ? = 1 THEN ? ELSE secret END WHERE id = ?`,
			w.Name, w.Description, w.URL, w.Status, w.UpdatedAt, secretGiven, sealed, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("Webhook with ID %s not found.", id)
		}
		if len(in.Events) > 0 {
			return setEvents(ctx, tx, id, w.Events)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Delete removes a webhook; deliveries still queued for it are dropped when they run.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE webhook_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("Webhook with ID %s not found.", id)
		}
		return nil
	})
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return uuidString(b)
}

// uuidString formats 16 bytes as a version-4 UUID.
func uuidString(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func dedupe(events []string) []string {
	var out []string
	for _, e := range events {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
