// Package auth is who is who: users and service accounts, the API tokens they hold, and
// how a request's credentials (a password or a token) become an Identity with scopes. It
// stores no secret: passwords as argon2id hashes, tokens as the SHA-256 of their random
// bytes. Checking a credential costs no database round trip once it has been seen: the
// answers are cached, and the cache is emptied whenever a user or a token changes.
package auth

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Scopes are what an identity may do, server-wide. A user has read, write and deploy (and
// admin if made one); a token has the scopes it was created with, never more than its
// holder's.
type Scopes uint8

const (
	Read   Scopes = 1 << iota // read tracking, registry, datasets, deployments; call models
	Write                     // change tracking, registry and datasets
	Deploy                    // create, change and delete deployments
	Admin                     // users, every token, server-wide maintenance

	userScopes = Read | Write | Deploy
	AllScopes  = Read | Write | Deploy | Admin
)

var scopeNames = []struct {
	s    Scopes
	name string
}{{Read, "read"}, {Write, "write"}, {Deploy, "deploy"}, {Admin, "admin"}}

// ParseScopes reads a comma-separated list of scope names.
func ParseScopes(s string) (Scopes, error) {
	var out Scopes
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.ToLower(part))
		if part == "" {
			continue
		}
		found := false
		for _, n := range scopeNames {
			if n.name == part {
				out |= n.s
				found = true
			}
		}
		if !found {
			return 0, fault.Invalidf("unknown scope %q: use read, write, deploy or admin", part)
		}
	}
	return out, nil
}

// Names returns the scopes' names in order.
func (s Scopes) Names() []string {
	out := []string{}
	for _, n := range scopeNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (s Scopes) String() string { return strings.Join(s.Names(), ",") }

// Has reports whether s includes every scope of want. Admin includes them all.
func (s Scopes) Has(want Scopes) bool { return s&Admin != 0 || s&want == want }

// Identity is who made a request.
type Identity struct {
	UserID  int64
	Name    string
	Kind    string // user or service
	Admin   bool
	Scopes  Scopes
	TokenID int64 // the token it signed in with; 0 for a password

	// SessionID is the browser session it came with (a cookie after single sign-on);
	// CSRFToken is the token that session's state-changing requests must carry.
	SessionID int64
	CSRFToken string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From returns the identity ctx carries, or nil (identity off, or an anonymous request).
func From(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// Kinds of identity.
const (
	KindUser    = "user"
	KindService = "service"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$`)

// CheckName checks a user or service account name.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fault.Invalidf("invalid user name %q: use letters, digits, '_', '.', '@' and '-' (at most 128, starting with a letter or digit)", name)
	}
	return nil
}

func checkPassword(p string) error {
	if len(p) < MinPasswordLength {
		return fault.Invalidf("a password needs at least %d characters", MinPasswordLength)
	}
	if len(p) > 1024 {
		return fault.Invalidf("a password has at most 1024 bytes")
	}
	return nil
}

// Options configure the service.
type Options struct {
	// CacheTTL bounds how long a checked credential is trusted without asking the
	// database again. Servers sharing a database tell each other of every change at
	// once (store.DB.Broadcast); the TTL bounds the harm of a notice that is lost.
	CacheTTL time.Duration
	// Now returns the time (tests).
	Now func() time.Time
	// DefaultPermission is what a user may do with an object nobody granted it anything
	// on (READ, USE, EDIT, MANAGE or NO_PERMISSIONS); "" is READ, as MLflow's default.
	DefaultPermission string
}

// Service manages identities and checks credentials.
type Service struct {
	db     *store.DB
	logger *slog.Logger
	opts   Options

	mu    sync.Mutex
	gen   uint64 // bumped on every change; cached answers of older generations are dropped
	cache *lru.Cache[[32]byte, cached]

	limits *limiter

	defaultLevel Level
	permGen      uint64 // under mu: bumped on every change of a grant or a team
	grants       *lru.Cache[int64, *grantSet]
}

type cached struct {
	id      Identity
	gen     uint64
	expires time.Time // of the cache entry
	until   time.Time // of the token; zero: never
}

// New returns the service over the metadata database.
func New(db *store.DB, logger *slog.Logger, opts Options) *Service {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c, _ := lru.New[[32]byte, cached](4096) // errs only on a size <= 0
	g, _ := lru.New[int64, *grantSet](4096)
	def, err := ParseLevel(opts.DefaultPermission)
	if opts.DefaultPermission == "" || err != nil {
		def = LevelRead
	}
	s := &Service{db: db, logger: logger, opts: opts, cache: c, limits: newLimiter(opts.Now), defaultLevel: def, grants: g}
	// Other servers on the database say when they change users, tokens or grants.
	db.Subscribe(topicIdentities, s.dropIdentities)
	db.Subscribe(topicGrants, s.dropGrants)
	return s
}

// Topics of the changes this service broadcasts to the servers sharing its database.
const (
	topicIdentities = "auth.identities" // users and tokens
	topicGrants     = "auth.grants"     // grants and teams
)

// changed empties the credential cache of every server on the database: a user or a
// token was changed or removed.
func (s *Service) changed() { s.db.Broadcast(context.Background(), topicIdentities) }

func (s *Service) dropIdentities() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
	s.cache.Purge()
	s.dropGrants() // a user's id may be given to another once it is deleted
}

func (s *Service) lookup(key [32]byte) (*Identity, bool) {
	c, ok := s.cache.Get(key)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	now := s.opts.Now()
	if c.gen != gen || now.After(c.expires) || (!c.until.IsZero() && !now.Before(c.until)) {
		s.cache.Remove(key)
		return nil, false
	}
	id := c.id
	return &id, true
}

func (s *Service) remember(key [32]byte, id *Identity, gen uint64, until time.Time) {
	s.cache.Add(key, cached{id: *id, gen: gen, expires: s.opts.Now().Add(s.opts.CacheTTL), until: until})
}

func (s *Service) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// errBadCredentials is the one answer to a wrong name, a wrong password, an unknown,
// expired or revoked token: it never says which part was wrong.
var errBadCredentials = fault.New(fault.Unauthenticated, "invalid credentials")

// ErrBadCredentials reports whether err is the refusal of a credential.
func IsBadCredentials(err error) bool { return errors.Is(err, errBadCredentials) }

// SignIn checks a user's password and returns the user's identity. Failures are
// counted per name and per client address; past the limit, every attempt is refused with
// fault.Exhausted until the window passes, right password or not.
func (s *Service) SignIn(ctx context.Context, name, password, client string) (*Identity, error) {
	key := passwordKey(name, password)
	if id, ok := s.lookup(key); ok {
		return id, nil
	}
	if err := s.limits.check(client, name); err != nil {
		return nil, err
	}
	gen := s.generation()
	u, hash, err := s.userByName(ctx, s.db.Reader(), name)
	switch {
	case errors.Is(err, fault.NotFound):
		verifyPassword(dummyHash, password) // the same work as for a real user: no timing oracle
		s.limits.fail(client, name)
		return nil, errBadCredentials
	case err != nil:
		return nil, err
	}
	if hash == "" || !verifyPassword(hash, password) {
		s.limits.fail(client, name)
		return nil, errBadCredentials
	}
	id := &Identity{UserID: u.ID, Name: u.Name, Kind: u.Kind, Admin: u.Admin, Scopes: rights(*u)}
	s.remember(key, id, gen, time.Time{})
	return id, nil
}

// Verify returns the identity a token stands for. A token that is unknown, expired or
// revoked is refused alike.
func (s *Service) Verify(ctx context.Context, token string) (*Identity, error) {
	key := tokenHash(token)
	if id, ok := s.lookup(key); ok {
		return id, nil
	}
	// Tokens are not limited as passwords are: 256 random bits are not guessed, and a
	// valid token must work from an address whose password guesses were cut off.
	gen := s.generation()
	if !looksLikeToken(token) {
		return nil, errBadCredentials
	}
	var (
		tokenID, userID  int64
		scopes           string
		expires, revoked sql.NullInt64
		name, kind       string
		admin            bool
	)
	err := s.db.Reader().QueryRowContext(ctx, `SELECT t.id, t.scopes, t.expires_at, t.revoked_at, u.id, u.name, u.kind, u.is_admin
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret_hash = ?`, key[:]).
		Scan(&tokenID, &scopes, &expires, &revoked, &userID, &name, &kind, &admin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	if revoked.Valid || (expires.Valid && now.UnixMilli() >= expires.Int64) {
		return nil, errBadCredentials
	}
	sc, err := ParseScopes(scopes)
	if err != nil {
		return nil, err
	}
	u := User{ID: userID, Name: name, Kind: kind, Admin: admin}
	id := &Identity{UserID: userID, Name: name, Kind: kind, Admin: admin && sc&Admin != 0, Scopes: sc & rights(u), TokenID: tokenID}
	var until time.Time
	if expires.Valid {
		until = time.UnixMilli(expires.Int64)
	}
	s.remember(key, id, gen, until)
	return id, nil
}

// rights are the scopes a user's password gives.
func rights(u User) Scopes {
	if u.Admin {
		return AllScopes
	}
	return userScopes
}
