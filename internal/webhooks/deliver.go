package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/netguard"
)

// MLflow's webhook headers (mlflow.webhooks.constants).
const (
	HeaderSignature  = "X-MLflow-Signature"
	HeaderTimestamp  = "X-MLflow-Timestamp"
	HeaderDeliveryID = "X-MLflow-Delivery-Id"
	signatureVersion = "v1"
)

// deliverArgs is one event for one webhook.
type deliverArgs struct {
	Event   int64  `json:"event"`   // webhook_outbox.id
	Webhook string `json:"webhook"` // webhooks.id
}

func (deliverArgs) Kind() string { return "webhook_deliver" }

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	s *Service
}

// Timeout bounds an attempt: the request's own timeout, and a margin to read the rows.
func (w *deliverWorker) Timeout(*river.Job[deliverArgs]) time.Duration {
	return w.s.opts.Timeout + 10*time.Second
}

// NextRetry waits Backoff before the first retry and doubles it at each further one.
func (w *deliverWorker) NextRetry(job *river.Job[deliverArgs]) time.Time {
	return time.Now().Add(backoff(w.s.opts.Backoff, job.Attempt))
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return w.s.deliver(ctx, job.Args, job.Attempt)
}

// errPermanent marks a failure retrying does not mend: the destination is refused by
// the outbound policy, or the receiver answered a client error.
var errPermanent = errors.New("not retried")

// deliver posts one event to one webhook. A webhook deleted or disabled since the event
// gets nothing.
func (s *Service) deliver(ctx context.Context, a deliverArgs, attempt int) error {
	q := s.db.Reader()
	var uid, event, data string
	var created int64
	err := q.QueryRowContext(ctx, `SELECT uid, event, data, created_at FROM webhook_outbox WHERE id = ?`, a.Event).
		Scan(&uid, &event, &data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	hook, sealed, err := s.get(ctx, q, a.Webhook)
	if fault.KindOf(err) == fault.NotFound || (err == nil && hook.Status != StatusActive) {
		return nil
	}
	if err != nil {
		return err
	}
	secret, err := s.seal.open(hook.ID, sealed)
	if err != nil {
		return river.JobCancel(err)
	}
	status, _, err := s.post(ctx, hook.URL, secret, deliveryID(uid, hook.ID), event, json.RawMessage(data), time.UnixMilli(created))
	if err == nil {
		return nil
	}
	log := s.logger.With("webhook", hook.ID, "event", event, "url", hook.URL, "attempt", attempt, "status", status, "err", err)
	if errors.Is(err, errPermanent) || attempt >= s.opts.MaxAttempts {
		log.Warn("webhooks: delivery failed; not retried")
		return river.JobCancel(err)
	}
	log.Info("webhooks: delivery failed; retried")
	return err
}

// deliveryID is the delivery's id, the same at every attempt so that a receiver can
// tell a retry from a new event: derived from the event's and the webhook's ids.
func deliveryID(eventUID, webhookID string) string {
	h := sha256.Sum256([]byte(eventUID + "/" + webhookID))
	return uuidString(h[:16])
}

// maxResponseBody caps what is read of a receiver's answer.
const maxResponseBody = 64 << 10

// post sends one delivery: MLflow's body ({"entity", "action", "timestamp", "data"}),
// signed as MLflow signs it. It returns the receiver's status and body; the error says
// whether a retry may help (errPermanent when not).
func (s *Service) post(ctx context.Context, url, secret, id, event string, data json.RawMessage, at time.Time) (int, string, error) {
	entity, action := split(event)
	body, err := json.Marshal(struct {
		Entity    string          `json:"entity"`
		Action    string          `json:"action"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{entity, action, isoformat(at), data})
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", errPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", errPermanent, err)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	// MLflow's spelling of its headers, not Go's canonical one: header names are
	// case-insensitive, but a receiver written against MLflow may not know it.
	req.Header.Set("Content-Type", "application/json")
	req.Header[HeaderDeliveryID] = []string{id}
	req.Header[HeaderTimestamp] = []string{ts}
	if secret != "" {
		req.Header[HeaderSignature] = []string{Sign(secret, id, ts, body)}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, netguard.ErrRefused) {
			return 0, "", fmt.Errorf("%w: %v", errPermanent, err)
		}
		return 0, "", err // timeouts, refused connections, resets: retried
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	switch {
	case resp.StatusCode < 400:
		return resp.StatusCode, string(text), nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return resp.StatusCode, string(text), fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, string(text), fmt.Errorf("%w: the receiver answered %d", errPermanent, resp.StatusCode)
}

// Sign is MLflow's webhook signature: "v1," and the base64 of the HMAC-SHA256, keyed by
// the secret, of "<delivery id>.<timestamp>.<body>".
func Sign(secret, deliveryID, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%s.%s.", deliveryID, timestamp)
	m.Write(body)
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// isoformat writes t as Python's datetime.isoformat does for an aware UTC time, as
// MLflow's payloads carry it: 2025-01-02T03:04:05.123456+00:00.
func isoformat(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
}

// TestResult is what a test delivery got, as MLflow's WebhookTestResult says it.
type TestResult struct {
	Success        bool
	ResponseStatus int
	ResponseBody   string
	ErrorMessage   string
}

// Test posts an example payload of event (default the webhook's first event) to the
// webhook now, once, and says what the receiver answered.
func (s *Service) Test(ctx context.Context, id, event string) (*TestResult, error) {
	hook, sealed, err := s.get(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, err
	}
	if event == "" && len(hook.Events) > 0 {
		event = hook.Events[0]
	}
	if !ValidEvent(event) {
		return nil, fault.Invalidf("Unknown webhook event %q", event)
	}
	secret, err := s.seal.open(hook.ID, sealed)
	if err != nil {
		return nil, err
	}
	status, body, err := s.post(ctx, hook.URL, secret, newID(), event, example(event), s.now())
	res := &TestResult{Success: err == nil, ResponseStatus: status, ResponseBody: body}
	if err != nil && status == 0 {
		res.ErrorMessage = "Failed to test webhook: " + err.Error()
	}
	return res, nil
}
