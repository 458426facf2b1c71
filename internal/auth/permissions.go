package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/store"
)

// Level is what a grant lets its holder do with one object, as MLflow 3 names it:
// READ < USE < EDIT < MANAGE. NoPermissions is no right at all; granted explicitly it
// is a denial that no team grant and no default permission overrides.
type Level uint8

const (
	NoPermissions Level = iota
	LevelRead           // see it, its runs, versions, artifacts; search it
	LevelUse            // call it: a deployment's inference routes
	LevelEdit           // change it: log to its runs, add versions, upload data
	LevelManage         // delete or rename it, move a protected alias, grant others
)

var levelNames = [...]string{"NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "NO_PERMISSIONS"
}

// ParseLevel reads a level by its MLflow name (any case); DENY is NO_PERMISSIONS.
func ParseLevel(s string) (Level, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "DENY" {
		return NoPermissions, nil
	}
	for i, n := range levelNames {
		if n == u {
			return Level(i), nil
		}
	}
	return 0, fault.Invalidf("unknown permission %q: use READ, USE, EDIT, MANAGE or NO_PERMISSIONS", s)
}

// ObjectKind is a kind of object permissions are granted on.
type ObjectKind string

const (
	Experiment      ObjectKind = "experiment"       // its runs, artifacts and logged models; by id
	RegisteredModel ObjectKind = "registered_model" // its versions, aliases, benchmarks, evaluations; by name
	Dataset         ObjectKind = "dataset"          // by name
	Deployment      ObjectKind = "deployment"       // by name
)

// ParseKind reads an object kind.
func ParseKind(s string) (ObjectKind, error) {
	switch k := ObjectKind(strings.ToLower(strings.TrimSpace(s))); k {
	case Experiment, RegisteredModel, Dataset, Deployment:
		return k, nil
	}
	return "", fault.Invalidf("unknown object kind %q: use experiment, registered_model, dataset or deployment", s)
}

// Principal is whom a grant is for: a user (or service account), or a team.
type Principal struct {
	User string `json:"user,omitempty"`
	Team string `json:"team,omitempty"`
}

func (p Principal) check() error {
	if (p.User == "") == (p.Team == "") {
		return fault.Invalidf("a grant is for a user or a team: give exactly one of user and team")
	}
	return nil
}

// GrantInfo is one grant, as listed.
type GrantInfo struct {
	Kind      ObjectKind `json:"kind"`
	Object    string     `json:"object"`
	User      string     `json:"user,omitempty"`
	Team      string     `json:"team,omitempty"`
	Level     string     `json:"level"`
	CreatedAt int64      `json:"created_at"`
}

// grantSet is what one user may do, from its own grants and its teams': the effective
// level for every object it holds a grant on. Objects it holds none on get the default.
type grantSet struct {
	gen     uint64
	expires time.Time
	levels  map[ObjectKind]map[string]Level
}

// Can returns nil when the identity in ctx may act on object at level need, and a
// PermissionDenied fault otherwise. Without an identity (identities off) everything is
// allowed; an administrator may do anything. The answer costs no database round trip
// once the identity's grants are cached.
func (s *Service) Can(ctx context.Context, kind ObjectKind, object string, need Level) error {
	id := From(ctx)
	if id == nil || id.Admin {
		return nil
	}
	have, err := s.LevelOf(ctx, id, kind, object)
	if err != nil {
		return err
	}
	if have >= need {
		return nil
	}
	return fault.New(fault.PermissionDenied, "permission denied: %s has %s on %s %s; this needs %s",
		id.Name, have, kindText(kind), object, need)
}

func kindText(k ObjectKind) string { return strings.ReplaceAll(string(k), "_", " ") }

// LevelOf returns what id may do with object: its own grant if it has one, else the
// highest of its teams' (a team's denial wins over them), else the default permission.
func (s *Service) LevelOf(ctx context.Context, id *Identity, kind ObjectKind, object string) (Level, error) {
	if id.Admin {
		return LevelManage, nil
	}
	gs, err := s.grantsOf(ctx, id.UserID)
	if err != nil {
		return 0, err
	}
	if l, ok := gs.levels[kind][object]; ok {
		return l, nil
	}
	return s.defaultLevel, nil
}

// Visibility says which objects of a kind a caller may read, for a search to filter in
// SQL: all of them (nil), only IDs (Only), or all but IDs.
type Visibility struct {
	Only bool     // true: IDs are the only ones visible; false: IDs are hidden
	IDs  []string // object ids or names
}

// Visible returns which objects of kind the identity in ctx may read: nil for all.
func (s *Service) Visible(ctx context.Context, kind ObjectKind) (*Visibility, error) {
	id := From(ctx)
	if id == nil || id.Admin {
		return nil, nil
	}
	gs, err := s.grantsOf(ctx, id.UserID)
	if err != nil {
		return nil, err
	}
	only := s.defaultLevel < LevelRead
	v := &Visibility{Only: only, IDs: []string{}}
	for obj, l := range gs.levels[kind] {
		if (l >= LevelRead) == only {
			v.IDs = append(v.IDs, obj)
		}
	}
	if !only && len(v.IDs) == 0 {
		return nil, nil
	}
	return v, nil
}

// Allows reports whether v lets object be seen.
func (v *Visibility) Allows(object string) bool {
	if v == nil {
		return true
	}
	for _, id := range v.IDs {
		if id == object {
			return v.Only
		}
	}
	return !v.Only
}

func (s *Service) grantsOf(ctx context.Context, userID int64) (*grantSet, error) {
	s.mu.Lock()
	gen := s.permGen
	s.mu.Unlock()
	if gs, ok := s.grants.Get(userID); ok && gs.gen == gen && s.opts.Now().Before(gs.expires) {
		return gs, nil
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT kind, object_id, level, user_id IS NOT NULL FROM grants
		WHERE user_id = ? OR team_id IN (SELECT team_id FROM team_members WHERE user_id = ?)`, userID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		kind ObjectKind
		obj  string
	}
	own, teams, teamDenied := map[key]Level{}, map[key]Level{}, map[key]bool{}
	for rows.Next() {
		var (
			k        key
			lv       string
			isUser   bool
			kindName string
		)
		if err := rows.Scan(&kindName, &k.obj, &lv, &isUser); err != nil {
			return nil, err
		}
		k.kind = ObjectKind(kindName)
		l, err := ParseLevel(lv)
		if err != nil {
			return nil, err
		}
		switch {
		case isUser:
			own[k] = l
		case l == NoPermissions:
			teamDenied[k] = true
		case l > teams[k]:
			teams[k] = l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	gs := &grantSet{gen: gen, expires: s.opts.Now().Add(s.opts.CacheTTL), levels: map[ObjectKind]map[string]Level{}}
	set := func(k key, l Level) {
		if gs.levels[k.kind] == nil {
			gs.levels[k.kind] = map[string]Level{}
		}
		gs.levels[k.kind][k.obj] = l
	}
	for k, l := range teams {
		set(k, l)
	}
	for k := range teamDenied {
		set(k, NoPermissions)
	}
	for k, l := range own {
		set(k, l)
	}
	s.grants.Add(userID, gs)
	return gs, nil
}

// grantsChanged drops every cached grant set.
func (s *Service) grantsChanged() {
	s.mu.Lock()
	s.permGen++
	s.mu.Unlock()
	s.grants.Purge()
}

// Grant gives principal level on object, replacing the grant it had. caller needs
// MANAGE on the object, or to be an administrator; nil caller is the server itself
// (identities off).
func (s *Service) Grant(ctx context.Context, caller *Identity, kind ObjectKind, object string, p Principal, level Level) error {
	if err := s.mayManage(ctx, caller, kind, object); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		col, pid, err := principalID(ctx, tx, p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE kind = ? AND object_id = ? AND `+col+` = ?`, kind, object, pid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO grants (kind, object_id, `+col+`, level, created_at) VALUES (?, ?, ?, ?, ?)`,
			kind, object, pid, level.String(), s.opts.Now().UnixMilli())
		return err
	})
	if err != nil {
		return err
	}
	s.grantsChanged()
	return nil
}

// Revoke removes principal's grant on object; the default permission applies again.
// It is NotFound when there was none.
func (s *Service) Revoke(ctx context.Context, caller *Identity, kind ObjectKind, object string, p Principal) error {
	if err := s.mayManage(ctx, caller, kind, object); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		col, pid, err := principalID(ctx, tx, p)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE kind = ? AND object_id = ? AND `+col+` = ?`, kind, object, pid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("%s has no grant on %s %s", p, kindText(kind), object)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.grantsChanged()
	return nil
}

func (p Principal) String() string {
	if p.Team != "" {
		return "team " + p.Team
	}
	return "user " + p.User
}

// ListGrants returns the grants on object, users' first, by name. caller needs MANAGE on
// it, or to be an administrator.
func (s *Service) ListGrants(ctx context.Context, caller *Identity, kind ObjectKind, object string) ([]GrantInfo, error) {
	if err := s.mayManage(ctx, caller, kind, object); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT g.kind, g.object_id, COALESCE(u.name, ''), COALESCE(t.name, ''), g.level, g.created_at
		FROM grants g LEFT JOIN users u ON u.id = g.user_id LEFT JOIN teams t ON t.id = g.team_id
		WHERE g.kind = ? AND g.object_id = ? ORDER BY g.team_id IS NOT NULL, u.name, t.name`, kind, object)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []GrantInfo{}
	for rows.Next() {
		var g GrantInfo
		if err := rows.Scan(&g.Kind, &g.Object, &g.User, &g.Team, &g.Level, &g.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// GrantsOf returns every grant a user or a team holds, by kind and object (for an
// administrator, or a user asking about itself).
func (s *Service) GrantsOf(ctx context.Context, caller *Identity, p Principal) ([]GrantInfo, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if caller != nil && !caller.Admin && (p.Team != "" || p.User != caller.Name) {
		return nil, fault.New(fault.PermissionDenied, "only an administrator lists another's grants")
	}
	col, pid, err := principalID(ctx, s.db.Reader(), p)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT kind, object_id, level, created_at FROM grants WHERE `+col+` = ? ORDER BY kind, object_id`, pid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []GrantInfo{}
	for rows.Next() {
		g := GrantInfo{User: p.User, Team: p.Team}
		if err := rows.Scan(&g.Kind, &g.Object, &g.Level, &g.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// GrantCreator gives the identity in ctx MANAGE on the object it just created. Without
// an identity (identities off) it does nothing.
func (s *Service) GrantCreator(ctx context.Context, kind ObjectKind, object string) error {
	id := From(ctx)
	if id == nil {
		return nil
	}
	return s.Grant(ctx, nil, kind, object, Principal{User: id.Name}, LevelManage)
}

// ForgetObject removes every grant on object: it was deleted, and a new object by the
// same name must not inherit them.
func (s *Service) ForgetObject(ctx context.Context, kind ObjectKind, object string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE kind = ? AND object_id = ?`, kind, object)
		return err
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

// RenameObject moves the grants on an object that was renamed to its new name.
func (s *Service) RenameObject(ctx context.Context, kind ObjectKind, from, to string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE grants SET object_id = ? WHERE kind = ? AND object_id = ?`, to, kind, from)
		return err
	})
	if err == nil {
		s.grantsChanged()
	}
	return err
}

func (s *Service) mayManage(ctx context.Context, caller *Identity, kind ObjectKind, object string) error {
	if _, err := ParseKind(string(kind)); err != nil {
		return err
	}
	if object == "" {
		return fault.Invalidf("name the object the grant is on")
	}
	if caller == nil || caller.Admin {
		return nil
	}
	l, err := s.LevelOf(ctx, caller, kind, object)
	if err != nil {
		return err
	}
	if l < LevelManage {
		return fault.New(fault.PermissionDenied, "permission denied: changing the grants on %s %s needs MANAGE; %s has %s",
			kindText(kind), object, caller.Name, l)
	}
	return nil
}

func principalID(ctx context.Context, q store.Querier, p Principal) (string, int64, error) {
	var id int64
	if p.Team != "" {
		err := q.QueryRowContext(ctx, `SELECT id FROM teams WHERE name = ?`, p.Team).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, fault.NotFoundf("team %q not found", p.Team)
		}
		return "team_id", id, err
	}
	err := q.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, p.User).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fault.NotFoundf("user %q not found", p.User)
	}
	return "user_id", id, err
}
