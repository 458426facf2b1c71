package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/store/storetest"
)

// Servers sharing a database drop what they cached of a token as soon as another server
// revokes it: the revoked token is refused everywhere at once, not after CacheTTL.
func TestRevocationReachesEveryServer(t *testing.T) {
	dbs := storetest.Replicas(t, 2)
	ctx := context.Background()
	a := New(dbs[0], slog.New(slog.DiscardHandler), Options{CacheTTL: time.Hour})
	b := New(dbs[1], slog.New(slog.DiscardHandler), Options{CacheTTL: time.Hour})
	if ok, err := a.Bootstrap(ctx, "admin-password"); !ok || err != nil {
		t.Fatalf("bootstrap: %v %v", ok, err)
	}
	admin, err := a.SignIn(ctx, "admin", "admin-password", "c1")
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := a.CreateToken(ctx, admin, NewToken{Scopes: "read", ExpiresIn: "never"})
	if err != nil {
		t.Fatal(err)
	}
	// b's listener connects (it reloads everything when it does); then the token is in
	// b's cache, for an hour.
	time.Sleep(200 * time.Millisecond)
	if _, err := b.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.Verify(ctx, secret)
		if IsBadCredentials(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other server still accepts the revoked token: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
