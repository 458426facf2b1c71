package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealPrefix marks a sealed secret: the version of the scheme, for a later key rotation.
const sealPrefix = "v1:"

// sealer encrypts webhook secrets at rest with AES-256-GCM, as MLflow encrypts them
// (Fernet, keyed by MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY): a copy of the database alone
// does not let anyone sign payloads.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("webhooks: the secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

// seal returns secret encrypted, bound to the webhook's id; "" stays "".
func (s *sealer) seal(id, secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
	return sealPrefix + base64.StdEncoding.EncodeToString(out), nil
}

var errSealed = errors.New("webhooks: a secret could not be opened: was the server's webhook key changed? (MLSHIP_WEBHOOK_SECRET_KEY)")

// open returns the secret seal made.
func (s *sealer) open(id, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if len(sealed) < len(sealPrefix) || sealed[:len(sealPrefix)] != sealPrefix {
		return "", errSealed
	}
	b, err := base64.StdEncoding.DecodeString(sealed[len(sealPrefix):])
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errSealed
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(id))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
