package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Credential is what `mlship login` keeps for one server: a token of the user's, made
// for this machine.
type Credential struct {
	User      string `json:"user"`
	Token     string `json:"token"`
	TokenID   int64  `json:"token_id"`
	ExpiresAt *int64 `json:"expires_at,omitempty"`
}

// credentialsFile is the file's shape: credentials by server URL.
type credentialsFile struct {
	Servers map[string]Credential `json:"servers"`
}

// CredentialsPath is where credentials are kept: credentials.json in the user's
// configuration directory ($XDG_CONFIG_HOME/mlship, else ~/.config/mlship on Linux).
func CredentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory to keep credentials in: %w", err)
	}
	return filepath.Join(dir, "mlship", "credentials.json"), nil
}

// serverKey is how a server's URL is spelled in the file.
func serverKey(server string) string { return strings.TrimSuffix(server, "/") }

func readCredentials(path string) (credentialsFile, error) {
	f := credentialsFile{Servers: map[string]Credential{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s is not a credentials file: %w", path, err)
	}
	if f.Servers == nil {
		f.Servers = map[string]Credential{}
	}
	return f, nil
}

// StoredCredential returns the credential kept for server, or nil.
func StoredCredential(server string) (*Credential, error) {
	path, err := CredentialsPath()
	if err != nil {
		return nil, err
	}
	f, err := readCredentials(path)
	if err != nil {
		return nil, err
	}
	c, ok := f.Servers[serverKey(server)]
	if !ok {
		return nil, nil
	}
	return &c, nil
}

// StoreCredential keeps c for server, replacing any it had. The file is readable by its
// owner alone, and is replaced whole, never written in place.
func StoreCredential(server string, c Credential) error {
	return changeCredentials(func(f *credentialsFile) { f.Servers[serverKey(server)] = c })
}

// ForgetCredential removes server's credential, if any.
func ForgetCredential(server string) error {
	return changeCredentials(func(f *credentialsFile) { delete(f.Servers, serverKey(server)) })
}

func changeCredentials(change func(*credentialsFile)) error {
	path, err := CredentialsPath()
	if err != nil {
		return err
	}
	f, err := readCredentials(path)
	if err != nil {
		return err
	}
	change(&f)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic replaces path with b, mode 0600: a temporary file in the same
// directory, synced, renamed over path, and the directory synced.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
