package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/netguard"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/webhooks"
)

// newWebhooks makes the webhook service. Its secrets are sealed with the key in
// MLSHIP_WEBHOOK_SECRET_KEY (base64 of 32 bytes), which servers sharing a database must
// share; without it, with a key kept in the data directory (created on first start).
func newWebhooks(cfg config.Server, db *store.DB, outbound *netguard.Policy, logger *slog.Logger) (*webhooks.Service, error) {
	key, err := webhookKey(cfg, db, logger)
	if err != nil {
		return nil, err
	}
	return webhooks.New(webhooks.Options{DB: db, Outbound: outbound, Key: key, Logger: logger})
}

func webhookKey(cfg config.Server, db *store.DB, logger *slog.Logger) ([]byte, error) {
	if env := strings.TrimSpace(os.Getenv("MLSHIP_WEBHOOK_SECRET_KEY")); env != "" {
		key, err := base64.StdEncoding.DecodeString(env)
		if err != nil || len(key) != 32 {
			return nil, errors.New("MLSHIP_WEBHOOK_SECRET_KEY must be the base64 of 32 bytes (openssl rand -base64 32)")
		}
		return key, nil
	}
	if !db.Exclusive() {
		logger.Warn("MLSHIP_WEBHOOK_SECRET_KEY is not set: webhook secrets are sealed with a key in the data directory, " +
			"which servers sharing the database do not share; give them all the same MLSHIP_WEBHOOK_SECRET_KEY")
	}
	path := filepath.Join(cfg.DataDir, "webhooks.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
			err = errors.Join(err, f.Sync(), f.Close())
		}
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("webhook key %s: %w", path, err)
		}
		b, err = os.ReadFile(path) // another server made it first
	}
	if err != nil {
		return nil, fmt.Errorf("webhook key %s: %w", path, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("webhook key %s: not the base64 of 32 bytes", path)
	}
	return key, nil
}

// swapEvent is the payload of deployment.swapped.
type swapEvent struct {
	Deployment      string `json:"deployment"`
	Role            string `json:"role"`
	Model           string `json:"model"`
	Version         string `json:"version"`
	PreviousModel   string `json:"previous_model,omitempty"`
	PreviousVersion string `json:"previous_version"`
}

// announceSwap records deployment.swapped once, however many servers make the swap.
func (s *Server) announceSwap(ctx context.Context, deployment, role string, from, to serving.Version) {
	ev := swapEvent{Deployment: deployment, Role: role, Model: to.Model, Version: to.Version, PreviousVersion: from.Version}
	if from.Model != to.Model {
		ev.PreviousModel = from.Model
	}
	if err := s.webhooks.RecordOnce(ctx, webhooks.DeploymentSwapped, deployment+"\x00"+role, ev); err != nil {
		s.logger.Warn("webhooks: could not record a deployment swap", "deployment", deployment, "err", err)
	}
}
