package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/netguard"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// receiver records deliveries and answers each with the next of its statuses (200
// once they run out).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
	arrived  chan struct{}
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.bodies = append(r.got, req), append(r.bodies, b)
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// wait waits for n deliveries, and then a moment for any beyond.
func (r *receiver) wait(t *testing.T, n int) int {
	t.Helper()
	for i := range n {
		select {
		case <-r.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d deliveries arrived", i, n)
		}
	}
	select {
	case <-r.arrived:
		n++
	case <-time.After(300 * time.Millisecond):
	}
	return n
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// each runs fn on every engine, with a service whose queue is kept where the server
// keeps it: a SQLite file of its own, or the PostgreSQL database.
func each(t *testing.T, fn func(t *testing.T, s *Service)) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			var db *store.DB
			q := jobs.Options{PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
			if engine == "sqlite" {
				db = storetest.Open(t, engine)
				q.Path = filepath.Join(t.TempDir(), "jobs.db")
			} else {
				q.Postgres = storetest.PostgresURI(t)
				var err error
				if db, err = store.Open(t.Context(), q.Postgres, slog.New(slog.DiscardHandler)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
			}
			fn(t, newService(t, db, q))
		})
	}
}

func newService(t *testing.T, db *store.DB, qopts jobs.Options) *Service {
	t.Helper()
	policy, err := netguard.Parse([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	queue := jobs.New(qopts)
	s, err := New(Options{DB: db, Queue: queue, Outbound: policy, Key: testKey, Backoff: 20 * time.Millisecond,
		MaxAttempts: 3, Timeout: 5 * time.Second, Sweep: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := queue.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go s.Run(ctx)
	t.Cleanup(func() {
		cancel()
		queue.Close(context.Background())
	})
	return s
}

func ptr(s string) *string { return &s }

func create(t *testing.T, s *Service, url, secret string, events ...string) *Webhook {
	t.Helper()
	w, err := s.Create(t.Context(), Input{Name: ptr("hook"), URL: ptr(url), Secret: ptr(secret), Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// change records an event in a write that commits unless fail is set.
func change(t *testing.T, s *Service, event string, data any, fail bool) {
	t.Helper()
	boom := errors.New("the change fails")
	err := s.db.Write(t.Context(), func(tx *store.Tx) error {
		if err := s.Record(t.Context(), tx, event, data); err != nil {
			return err
		}
		if fail {
			return boom
		}
		return nil
	})
	if fail != errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	s.Committed()
}

// An event goes out once its change commits, signed as MLflow signs it; a rolled-back
// change announces nothing; a receiver that answers 503 gets the same delivery again.
func TestDeliveryFollowsTheCommitAndRetries(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		rcv := newReceiver(t, http.StatusServiceUnavailable)
		create(t, s, rcv.URL+"/hook", "s3cret", "model_version_alias.created")
		change(t, s, "model_version_alias.created", map[string]string{"name": "rolled-back"}, true)
		change(t, s, "model_version.created", map[string]string{"name": "unsubscribed"}, false)
		change(t, s, "model_version_alias.created", map[string]string{"name": "m", "alias": "production", "version": "2"}, false)
		if n := rcv.wait(t, 2); n != 2 {
			t.Fatalf("%d deliveries, want a failed one and its retry", n)
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for i, req := range rcv.got {
			id, ts := req.Header.Get(HeaderDeliveryID), req.Header.Get(HeaderTimestamp)
			if want := Sign("s3cret", id, ts, rcv.bodies[i]); req.Header.Get(HeaderSignature) != want {
				t.Errorf("signature %q, want %q", req.Header.Get(HeaderSignature), want)
			}
			if id != rcv.got[0].Header.Get(HeaderDeliveryID) {
				t.Error("a retry carries another delivery id")
			}
			var body struct {
				Entity, Action, Timestamp string
				Data                      map[string]string
			}
			if err := json.Unmarshal(rcv.bodies[i], &body); err != nil {
				t.Fatal(err)
			}
			if body.Entity != "model_version_alias" || body.Action != "created" || body.Data["name"] != "m" ||
				!strings.HasSuffix(body.Timestamp, "+00:00") {
				t.Errorf("body %s", rcv.bodies[i])
			}
		}
	})
}

// A client error is not retried, a disabled webhook gets nothing, and an event
// dispatched again (a server stopped half-way) is delivered once.
func TestNoRetryOnClientErrorsAndOneDeliveryPerEvent(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		bad := newReceiver(t, http.StatusBadRequest, http.StatusBadRequest)
		create(t, s, bad.URL, "", "registered_model.created")
		off := newReceiver(t)
		w := create(t, s, off.URL, "", "registered_model.created")
		if _, err := s.Update(t.Context(), w.ID, Input{Status: ptr(StatusDisabled)}); err != nil {
			t.Fatal(err)
		}
		change(t, s, "registered_model.created", map[string]string{"name": "m"}, false)
		if n := bad.wait(t, 1); n != 1 {
			t.Fatalf("a 400 was retried: %d attempts", n)
		}
		if got := bad.got[0].Header.Get(HeaderSignature); got != "" {
			t.Errorf("unsigned webhook's delivery carries a signature %q", got)
		}
		// Dispatched again, as by a server that enqueued and stopped before marking it.
		if err := s.db.Write(t.Context(), func(tx *store.Tx) error {
			_, err := tx.ExecContext(t.Context(), `UPDATE webhook_outbox SET dispatched_at = NULL`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s.Committed()
		if n := bad.wait(t, 0); n != 0 {
			t.Errorf("an event dispatched twice was delivered %d more times", n)
		}
		if len(off.got) != 0 {
			t.Errorf("a disabled webhook got %d deliveries", len(off.got))
		}
	})
}

// The secret is sealed in the database, bound to its webhook, and never shown.
func TestSecretIsSealed(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		w := create(t, s, "https://example.com/hook", "plain-secret", "model_version.created")
		var sealed string
		if err := s.db.Reader().QueryRowContext(t.Context(), `SELECT secret FROM webhooks WHERE id = ?`, w.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sealed, "plain-secret") || !strings.HasPrefix(sealed, sealPrefix) {
			t.Fatalf("stored secret %q", sealed)
		}
		if got, err := s.seal.open(w.ID, sealed); err != nil || got != "plain-secret" {
			t.Fatalf("open = %q, %v", got, err)
		}
		if _, err := s.seal.open("another-webhook", sealed); err == nil {
			t.Error("a secret opened under another webhook's id")
		}
	})
}

func TestValidation(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		for _, in := range []Input{
			{Name: ptr("ok"), URL: ptr("ftp://example.com"), Events: []string{"model_version.created"}},
			{Name: ptr("ok"), URL: ptr("https://u:p@example.com"), Events: []string{"model_version.created"}},
			{Name: ptr("ok"), URL: ptr("http://10.1.2.3/h"), Events: []string{"model_version.created"}},
			{Name: ptr("ok"), URL: ptr("http://[::1]:80/h"), Events: []string{"model_version.created"}},
			{Name: ptr("ok"), URL: ptr("https://example.com"), Events: []string{"model_version.exploded"}},
			{Name: ptr("ok"), URL: ptr("https://example.com")},
			{Name: ptr("-no-"), URL: ptr("https://example.com"), Events: []string{"model_version.created"}},
			{Name: ptr("ok"), URL: ptr("https://example.com"), Events: []string{"drift.detected"}, Status: ptr("ON")},
		} {
			if _, err := s.Create(t.Context(), in); fault.KindOf(err) != fault.Invalid {
				t.Errorf("Create(%s, %s, %v) = %v, want invalid", *in.Name, *in.URL, in.Events, err)
			}
		}
		hooks, _, err := s.List(t.Context(), 0, "")
		if err != nil || len(hooks) != 0 {
			t.Fatalf("refused webhooks were stored: %v, %v", hooks, err)
		}
	})
}

func TestListPages(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		for range 5 {
			create(t, s, "https://example.com/hook", "", GateVerdict, DriftDetected)
		}
		seen := map[string]bool{}
		token := ""
		for pages := 0; ; pages++ {
			hooks, next, err := s.List(t.Context(), 2, token)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hooks {
				if seen[h.ID] || len(h.Events) != 2 || h.Events[0] != GateVerdict {
					t.Fatalf("page %d: %+v", pages, h)
				}
				seen[h.ID] = true
			}
			if token = next; token == "" {
				break
			}
		}
		if len(seen) != 5 {
			t.Fatalf("listed %d webhooks, want 5", len(seen))
		}
		if _, _, err := s.List(t.Context(), 2, "not-a-token"); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a bad page token: %v", err)
		}
	})
}

func TestBackoffDoubles(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: maxBackoff} {
		if got := backoff(time.Second, attempt); got != want {
			t.Errorf("backoff(1s, %d) = %v, want %v", attempt, got, want)
		}
	}
}

// Servers sharing a PostgreSQL database, each dispatching, deliver every event once.
func TestServersSharingADatabaseDeliverEachEventOnce(t *testing.T) {
	uri := storetest.PostgresURI(t)
	var servers []*Service
	for range 3 {
		db, err := store.Open(t.Context(), uri, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		servers = append(servers, newService(t, db, jobs.Options{Postgres: uri, PollInterval: 20 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)}))
	}
	rcv := newReceiver(t)
	create(t, servers[0], rcv.URL, "k", "model_version.created")
	const n = 30
	for i := range n {
		change(t, servers[i%len(servers)], "model_version.created", map[string]int{"i": i}, false)
	}
	if got := rcv.wait(t, n); got != n {
		t.Fatalf("%d deliveries of %d events", got, n)
	}
	seen := map[string]bool{}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, r := range rcv.got {
		id := r.Header.Get(HeaderDeliveryID)
		if seen[id] {
			t.Fatalf("delivery %s arrived twice", id)
		}
		seen[id] = true
	}
	if err := servers[1].Prune(t.Context(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var left int
	servers[2].db.Reader().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM webhook_outbox`).Scan(&left)
	if left != 0 {
		t.Errorf("%d dispatched events left after pruning", left)
	}
}

// A change every server makes on its own is recorded once, and again when it happens
// again after another.
func TestRecordOnce(t *testing.T) {
	each(t, func(t *testing.T, s *Service) {
		swap := func(from, to string) {
			t.Helper()
			for range 3 { // three servers making the same swap
				if err := s.RecordOnce(t.Context(), DeploymentSwapped, "fraud\x00primary",
					map[string]string{"previous_version": from, "version": to}); err != nil {
					t.Fatal(err)
				}
			}
		}
		swap("1", "2")
		swap("2", "1")
		swap("1", "2")
		if err := s.RecordOnce(t.Context(), DeploymentSwapped, "other\x00primary",
			map[string]string{"previous_version": "1", "version": "2"}); err != nil {
			t.Fatal(err)
		}
		var n int
		s.db.Reader().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM webhook_outbox WHERE event = ?`, DeploymentSwapped).Scan(&n)
		if n != 4 {
			t.Fatalf("%d swaps recorded, want 4", n)
		}
	})
}
