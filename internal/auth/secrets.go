package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommendation (19 MiB, 2 passes, 1 lane). A password is
// hashed on sign-in only when its answer is not cached.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// hashPassword returns the PHC string of password's argon2id hash with a fresh salt.
func hashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC string hash, with the
// parameters hash was made with.
func verifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var memory, iterations uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || iterations == 0 || iterations > 16 || threads == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when a name is unknown, so that answering takes as long
// as for a known one.
var dummyHash = func() string {
	h, err := hashPassword("not a password anyone has")
	if err != nil {
		panic(err)
	}
	return h
}()

// TokenPrefix starts every API token, so that secret scanners and people can tell one.
const TokenPrefix = "mls_"

// newToken returns a fresh token: the prefix and 32 random bytes, base64url.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func looksLikeToken(t string) bool {
	return strings.HasPrefix(t, TokenPrefix) && len(t) == len(TokenPrefix)+43
}

// cacheKey keys the cache of checked passwords: keyed by a secret of this process, so
// that a memory dump holds no fast hash of a password to guess against.
var cacheKey = func() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}()

func passwordKey(name, password string) [32]byte {
	m := hmac.New(sha256.New, cacheKey)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// tokenHash is what is stored of a token. Tokens are random, so one SHA-256 suffices:
// there is nothing to guess that a slow hash would protect.
func tokenHash(token string) [32]byte { return sha256.Sum256([]byte("t\x00" + token)) }
