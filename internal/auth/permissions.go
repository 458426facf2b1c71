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
// READ < USE < EDIT < MANAGE. DENY is an explicit denial that wins over every other
// grant it meets (the user's own, its teams'); NO_PERMISSIONS is no right at all, the
// absence of a grant, and is never granted. Both compare below READ.
type Level uint8

const (
	LevelDeny     Level = iota // an explicit denial: no grant or default overrides it
	NoPermissions              // no right: no grant, and a default permission of NO_PERMISSIONS
	LevelRead                  // see it, its runs, versions, artifacts; search it
	LevelUse                   // call it: a deployment's inference routes
	LevelEdit                  // change it: log to its runs, add versions, upload data
	LevelManage                // delete or rename it, move a protected alias, grant others
)

var levelNames = [...]string{"DENY", "NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "NO_PERMISSIONS"
}

// ParseLevel reads a level by its MLflow name, in any case.
func ParseLevel(s string) (Level, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range levelNames {
		if n == u {
			return Level(i), nil
		}
	}
	return 0, fault.Invalidf("unknown permission %q: use READ, USE, EDIT, MANAGE or DENY", s)
}

// grantable refuses a level no grant may hold: NO_PERMISSIONS is what having no grant
// means, as in MLflow 3, which refuses it too.
func grantable(l Level) error {
	if l == NoPermissions || l > LevelManage {
		return fault.Invalidf("%s cannot be granted: it is the absence of a grant. Revoke the grant to fall back to the default permission, or grant DENY to refuse all access", l)
	}
	return nil
}

// Wildcard, as a grant's object, stands for every object of its kind (MLflow's
// resource_pattern "*"). Only an administrator grants on it.
const Wildcard = "*"

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

// grantSet is what one user holds, from its own grants and its teams': for every
// object (or Wildcard) it holds a grant on, their fold.
type grantSet struct {
	gen     uint64
	expires time.Time
	folds   map[ObjectKind]map[string]fold
}

// fold is what several grants on one object add up to, as MLflow 3 folds the grants
// of a user's roles: a DENY among them wins; otherwise the highest.
type fold struct {
	deny bool
	best Level // the highest positive grant; NoPermissions when none
}

func (f fold) with(l Level) fold {
	if l == LevelDeny {
		f.deny = true
	} else if l > f.best {
		f.best = l
	}
	return f
}

func (f fold) merge(g fold) fold {
	return fold{deny: f.deny || g.deny, best: max(f.best, g.best)}
}

// resolve is the level the fold gives: DENY, or its best never below the default
// permission (a grant adds to what everyone may do; it never takes away but by DENY).
func (f fold) resolve(def Level) Level {
	if f.deny {
		return LevelDeny
	}
	return max(f.best, def)
}

// level is what the set gives on object: the fold of the grants on it and on every
// object of its kind, else def.
func (gs *grantSet) level(kind ObjectKind, object string, def Level) Level {
	objs := gs.folds[kind]
	f, ok := objs[object]
	w, wok := objs[Wildcard]
	switch {
	case ok && wok:
		return f.merge(w).resolve(def)
	case ok:
		return f.resolve(def)
	case wok:
		return w.resolve(def)
	}
	return def
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

// LevelOf returns what id may do with object, as MLflow 3 decides it: a DENY granted to
// the user or to any of its teams, on the object or on every object of its kind, wins;
// otherwise the highest of those grants, never below the default permission; without
// any grant, the default permission.
func (s *Service) LevelOf(ctx context.Context, id *Identity, kind ObjectKind, object string) (Level, error) {
	if id.Admin {
		return LevelManage, nil
	}
	gs, err := s.grantsOf(ctx, id.UserID)
	if err != nil {
		return 0, err
	}
	return gs.level(kind, object, s.defaultLevel), nil
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
	objs := gs.folds[kind]
	base := gs.level(kind, Wildcard, s.defaultLevel)
	only := base < LevelRead
	v := &Visibility{Only: only, IDs: []string{}}
	for obj := range objs {
		if obj != Wildcard && (gs.level(kind, obj, s.defaultLevel) >= LevelRead) == only {
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
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT kind, object_id, level FROM grants
		WHERE user_id = ? OR team_id IN (SELECT team_id FROM team_members WHERE user_id = ?)`, userID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gs := &grantSet{gen: gen, expires: s.opts.Now().Add(s.opts.CacheTTL), folds: map[ObjectKind]map[string]fold{}}
	for rows.Next() {
		var kind, obj, lv string
		if err := rows.Scan(&kind, &obj, &lv); err != nil {
			return nil, err
		}
		l, err := ParseLevel(lv)
		if err != nil {
			return nil, err
		}
		k := ObjectKind(kind)
		if gs.folds[k] == nil {
			gs.folds[k] = map[string]fold{}
		}
		gs.folds[k][obj] = gs.folds[k][obj].with(l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.grants.Add(userID, gs)
	return gs, nil
}

// grantsChanged drops every cached grant set, on every server on the database.
func (s *Service) grantsChanged() { s.db.Broadcast(context.Background(), topicGrants) }

func (s *Service) dropGrants() {
	s.mu.Lock()
	s.permGen++
	s.mu.Unlock()
	s.grants.Purge()
}

// Grant gives principal level on object, replacing the grant it had. caller needs
// MANAGE on the object, or to be an administrator (on Wildcard, to be one); nil caller
// is the server itself (identities off). NO_PERMISSIONS is refused: revoke instead.
func (s *Service) Grant(ctx context.Context, caller *Identity, kind ObjectKind, object string, p Principal, level Level) error {
	if err := s.mayManage(ctx, caller, kind, object); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	if err := grantable(level); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		col, pid, err := principalID(ctx, tx, p)
		if err != nil {
			return err
		}
		// A grant changed keeps its id, which MLflow's role API hands out.
		res, err := tx.ExecContext(ctx, `UPDATE grants SET level = ? WHERE kind = ? AND object_id = ? AND `+col+` = ?`,
			level.String(), kind, object, pid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = s.insertGrant(ctx, tx, kind, object, col, pid, level)
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
	if object == Wildcard {
		return fault.New(fault.PermissionDenied, "permission denied: only an administrator changes or lists the grants on every %s (%q)", kindText(kind), Wildcard)
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

// insertGrant adds a grant whose id is never given again, even after it is revoked: a
// stale id a client holds names nothing rather than a newer grant.
func (s *Service) insertGrant(ctx context.Context, tx *store.Tx, kind ObjectKind, object, col string, pid int64, level Level) (int64, error) {
	id, err := nextID(ctx, tx, "grants")
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO grants (id, kind, object_id, `+col+`, level, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, kind, object, pid, level.String(), s.opts.Now().UnixMilli())
	return id, err
}

// nextID takes the next id of table ("teams" or "grants") from id_sequences: ids taken
// are never taken again, as SQLite's own rowids would be once the highest row is
// deleted. A row inserted with an id of SQLite's choosing is stepped over.
func nextID(ctx context.Context, tx *store.Tx, table string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `UPDATE id_sequences SET last = `+
		tx.Dialect().Greatest("last", `(SELECT COALESCE(MAX(id), 0) FROM `+table+`)`)+` + 1
		WHERE name = ? RETURNING last`, table).Scan(&id)
	return id, err
}
