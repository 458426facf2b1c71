package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// userToken signs in to an mlship server started with --auth: as the administrator it
// creates the user bench (no administrator, so every request goes through the
// permission checks of an ordinary user), and returns an API token of bench's with the
// read and write scopes, which the workloads' clients then send.
func userToken(ctx context.Context, client *http.Client, base, adminPassword string) (string, error) {
	password := rand.Text()
	user := map[string]string{"name": "bench", "password": password}
	if err := postAs(ctx, client, base+"/api/v1/users", "admin", adminPassword, user, nil); err != nil {
		return "", fmt.Errorf("create the user bench: %w", err)
	}
	var created struct {
		Token string `json:"token"`
	}
	req := map[string]string{"name": "bench", "scopes": "read,write"}
	if err := postAs(ctx, client, base+"/api/v1/tokens", "bench", password, req, &created); err != nil {
		return "", fmt.Errorf("create bench's token: %w", err)
	}
	return created.Token, nil
}

// postAs posts body as JSON with HTTP Basic credentials and expects 201 Created.
func postAs(ctx context.Context, client *http.Client, url, user, password string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return &statusError{code: resp.StatusCode, body: string(bytes.TrimSpace(answer))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer, out)
}
