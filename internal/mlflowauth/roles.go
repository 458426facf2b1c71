package mlflowauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
)

// MLflow 3's roles are mlship's teams: a role's id is its team's, the users it is
// assigned to are the team's members, and its permissions are the team's grants. There
// is one model of access, which `mlship teams` and this API show each its own way.

// role is MLflow's Role entity. Every team lives in the default workspace.
type role struct {
	ID          int64            `json:"id"`
	Name        string           `json:"name"`
	Workspace   string           `json:"workspace"`
	Description *string          `json:"description"`
	Permissions []rolePermission `json:"permissions"`
}

// rolePermission is MLflow's RolePermission entity.
type rolePermission struct {
	ID              int64  `json:"id"`
	RoleID          int64  `json:"role_id"`
	ResourceType    string `json:"resource_type"`
	ResourcePattern string `json:"resource_pattern"`
	Permission      string `json:"permission"`
}

// assignment is MLflow's UserRoleAssignment entity.
type assignment struct {
	ID     int64 `json:"id"`
	UserID int64 `json:"user_id"`
	RoleID int64 `json:"role_id"`
}

func roleOf(t *auth.Team, grants []auth.TeamGrant) role {
	r := role{ID: t.ID, Name: t.Name, Workspace: defaultWorkspace, Permissions: make([]rolePermission, 0, len(grants))}
	if t.Description != "" {
		r.Description = &t.Description
	}
	for _, g := range grants {
		r.Permissions = append(r.Permissions, permissionOf(g))
	}
	return r
}

func permissionOf(g auth.TeamGrant) rolePermission {
	return rolePermission{ID: g.ID, RoleID: g.TeamID, ResourceType: string(g.Kind), ResourcePattern: g.Object, Permission: g.Level.String()}
}

func assignmentOf(m auth.Membership) assignment {
	return assignment{ID: m.ID, UserID: m.UserID, RoleID: m.TeamID}
}

// integer returns a required integer parameter: a JSON number, or a string of digits
// (as a query string carries it).
func (p params) integer(name string) (int64, error) {
	raw, ok := p[name]
	if !ok || string(raw) == "null" {
		return 0, fault.Missing(name)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fault.Invalidf("Parameter '%s' must be an integer. Got: %s", name, raw)
	}
	return n, nil
}

// optDescription returns a role's description: absent or null is nil; anything but a
// string is refused.
func (p params) optDescription() (*string, error) {
	raw, ok := p["description"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fault.Invalidf("Role description must be a string or null.")
	}
	return &s, nil
}

// team returns the team the role_id parameter names; an unknown id is MLflow's
// RESOURCE_DOES_NOT_EXIST.
func (a *API) team(r *http.Request, p params) (*auth.Team, error) {
	id, err := p.integer("role_id")
	if err != nil {
		return nil, err
	}
	t, err := a.auth.TeamByID(r.Context(), id)
	if errors.Is(err, fault.NotFound) {
		return nil, fault.NotFoundf("Role with id=%d not found", id)
	}
	return t, err
}

// teamOf reads a request's parameters and the team its role_id names.
func (a *API) teamOf(r *http.Request) (params, *auth.Team, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, nil, err
	}
	t, err := a.team(r, p)
	return p, t, err
}

// roleOfTeam returns a team as a role, with its grants.
func (a *API) roleOfTeam(r *http.Request, t *auth.Team) (role, error) {
	grants, err := a.auth.TeamGrants(r.Context(), t.ID)
	return roleOf(t, grants[t.ID]), err
}

// mayViewRoles lets through an administrator, and, as MLflow's app does, a user who
// holds a role in the workspace: every role is in the default one.
func (a *API) mayViewRoles(r *http.Request) error {
	id := auth.From(r.Context())
	if isAdmin(id) {
		return nil
	}
	ms, err := a.auth.Memberships(r.Context(), 0, id.UserID)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return errForbidden
	}
	return nil
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, _, err := p.optStr("name")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(name) == "" {
		return nil, fault.Invalidf("Role name cannot be empty.")
	}
	ws, _, err := p.optStr("workspace")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(ws) == "" {
		return nil, fault.Invalidf("Workspace cannot be empty.")
	}
	if err := checkWorkspace(ws); err != nil {
		return nil, err
	}
	desc, err := p.optDescription()
	if err != nil {
		return nil, err
	}
	t, err := a.auth.CreateTeam(r.Context(), name, deref(desc))
	if fault.KindOf(err) == fault.AlreadyExists {
		return nil, fault.New(fault.AlreadyExists, "Role (name=%s, workspace=%s) already exists.", name, ws)
	}
	if err != nil {
		return nil, err
	}
	return map[string]role{"role": roleOf(t, nil)}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request) (any, error) {
	ro, err := a.viewedRole(r)
	return map[string]role{"role": ro}, err
}

// viewedRole returns the role the role_id parameter names, with its permissions, for a
// caller who may view roles.
func (a *API) viewedRole(r *http.Request) (role, error) {
	p, err := readParams(r)
	if err != nil {
		return role{}, err
	}
	if err := a.mayViewRoles(r); err != nil {
		return role{}, err
	}
	t, err := a.team(r, p)
	if err != nil {
		return role{}, err
	}
	return a.roleOfTeam(r, t)
}

// listRoles lists the roles of the workspaces named (only the default one exists), or
// of all of them for an administrator.
func (a *API) listRoles(w http.ResponseWriter, r *http.Request) (any, error) {
	wss := r.URL.Query()["workspace"]
	for _, ws := range wss {
		if strings.TrimSpace(ws) == "" {
			return nil, fault.Invalidf("Parameter 'workspace' must be a non-empty string when provided.")
		}
		if err := checkWorkspace(ws); err != nil {
			return nil, err
		}
	}
	if len(wss) == 0 && !isAdmin(auth.From(r.Context())) {
		return nil, errForbidden
	}
	if err := a.mayViewRoles(r); err != nil {
		return nil, err
	}
	roles, err := a.roles(r, nil)
	return map[string][]role{"roles": roles}, err
}

// roles returns the teams as roles: those keep says to keep, all with keep nil.
func (a *API) roles(r *http.Request, keep func(*auth.Team) bool) ([]role, error) {
	teams, err := a.auth.ListTeams(r.Context())
	if err != nil {
		return nil, err
	}
	grants, err := a.auth.TeamGrants(r.Context())
	if err != nil {
		return nil, err
	}
	out := []role{}
	for i := range teams {
		if keep == nil || keep(&teams[i]) {
			out = append(out, roleOf(&teams[i], grants[teams[i].ID]))
		}
	}
	return out, nil
}

func (a *API) updateRole(w http.ResponseWriter, r *http.Request) (any, error) {
	p, t, err := a.teamOf(r)
	if err != nil {
		return nil, err
	}
	name, hasName, err := p.optStr("name")
	if err != nil {
		return nil, err
	}
	desc, err := p.optDescription()
	if err != nil {
		return nil, fault.Invalidf("Role description must be a string.")
	}
	if !hasName && desc == nil {
		return nil, fault.Invalidf("At least one of 'name' or 'description' must be provided to update a role.")
	}
	var newName *string
	if hasName {
		if strings.TrimSpace(name) == "" {
			return nil, fault.Invalidf("Role name cannot be empty.")
		}
		newName = &name
	}
	t, err = a.auth.UpdateTeam(r.Context(), t.ID, newName, desc)
	if fault.KindOf(err) == fault.AlreadyExists {
		return nil, fault.New(fault.AlreadyExists, "Role with name=%s already exists in workspace=%s", name, defaultWorkspace)
	}
	if err != nil {
		return nil, err
	}
	ro, err := a.roleOfTeam(r, t)
	return map[string]role{"role": ro}, err
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) (any, error) {
	_, t, err := a.teamOf(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{}, a.auth.DeleteTeam(r.Context(), t.Name)
}

func (a *API) addRolePermission(w http.ResponseWriter, r *http.Request) (any, error) {
	p, t, err := a.teamOf(r)
	if err != nil {
		return nil, err
	}
	kind, pattern, err := resourceOf(p, "resource_pattern")
	if err != nil {
		return nil, err
	}
	level, err := levelOf(p)
	if err != nil {
		return nil, err
	}
	g, err := a.auth.AddTeamGrant(r.Context(), t.ID, kind, pattern, level)
	if fault.KindOf(err) == fault.AlreadyExists {
		return nil, fault.New(fault.AlreadyExists, "Role permission (role_id=%d, resource_type=%s, resource_pattern=%s) already exists.", t.ID, kind, pattern)
	}
	if err != nil {
		return nil, err
	}
	return map[string]rolePermission{"role_permission": permissionOf(*g)}, nil
}

// rolePermissionID reads a request's parameters and its role_permission_id; a grant
// that is no team's is not found, as an unknown id is.
func rolePermissionID(r *http.Request) (params, int64, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, 0, err
	}
	id, err := p.integer("role_permission_id")
	return p, id, err
}

func rolePermissionNotFound(id int64, err error) error {
	if errors.Is(err, fault.NotFound) {
		return fault.NotFoundf("Role permission with id=%d not found", id)
	}
	return err
}

func (a *API) removeRolePermission(w http.ResponseWriter, r *http.Request) (any, error) {
	_, id, err := rolePermissionID(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{}, rolePermissionNotFound(id, a.auth.RemoveTeamGrant(r.Context(), id))
}

func (a *API) listRolePermissions(w http.ResponseWriter, r *http.Request) (any, error) {
	ro, err := a.viewedRole(r)
	return map[string][]rolePermission{"role_permissions": ro.Permissions}, err
}

func (a *API) updateRolePermission(w http.ResponseWriter, r *http.Request) (any, error) {
	p, id, err := rolePermissionID(r)
	if err != nil {
		return nil, err
	}
	level, err := levelOf(p)
	if err != nil {
		return nil, err
	}
	g, err := a.auth.SetTeamGrantLevel(r.Context(), id, level)
	if err != nil {
		return nil, rolePermissionNotFound(id, err)
	}
	return map[string]rolePermission{"role_permission": permissionOf(*g)}, nil
}

// member reads username and role_id, and returns the user, the team and the user's
// membership of it (nil when it is not a member).
func (a *API) member(r *http.Request, p params) (*auth.User, *auth.Team, *auth.Membership, error) {
	name, err := p.str("username")
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := a.team(r, p)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := a.auth.GetUser(r.Context(), name)
	if err != nil {
		return nil, nil, nil, err
	}
	ms, err := a.auth.Memberships(r.Context(), t.ID, u.ID)
	if err != nil || len(ms) == 0 {
		return u, t, nil, err
	}
	return u, t, &ms[0], nil
}

func (a *API) assignRole(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	u, t, m, err := a.member(r, p)
	if err != nil {
		return nil, err
	}
	if m != nil {
		return nil, fault.New(fault.AlreadyExists, "User role assignment (user_id=%d, role_id=%d) already exists", u.ID, t.ID)
	}
	if err := a.auth.AddMember(r.Context(), t.Name, u.Name); err != nil {
		return nil, err
	}
	if _, _, m, err = a.member(r, p); err != nil || m == nil {
		if err == nil {
			err = fault.New(fault.Conflict, "the assignment was removed as it was made; try again")
		}
		return nil, err
	}
	return map[string]assignment{"assignment": assignmentOf(*m)}, nil
}

func (a *API) unassignRole(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	u, t, m, err := a.member(r, p)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fault.NotFoundf("User role assignment (user_id=%d, role_id=%d) not found", u.ID, t.ID)
	}
	return map[string]any{}, a.auth.RemoveMember(r.Context(), t.Name, u.Name)
}

// listUserRoles lists the roles assigned to a user: for an administrator, or the user
// itself.
func (a *API) listUserRoles(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := a.viewedUser(r)
	if err != nil {
		return nil, err
	}
	roles, err := a.rolesOf(r)
	if err != nil {
		return nil, err
	}
	return map[string][]role{"roles": append([]role{}, roles[u.ID]...)}, nil
}

// rolesOf returns every user's roles, by user id.
func (a *API) rolesOf(r *http.Request) (map[int64][]role, error) {
	ms, err := a.auth.Memberships(r.Context(), 0, 0)
	if err != nil {
		return nil, err
	}
	roles, err := a.roles(r, nil)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]role, len(roles))
	for _, ro := range roles {
		byID[ro.ID] = ro
	}
	out := map[int64][]role{}
	for _, m := range ms {
		out[m.UserID] = append(out[m.UserID], byID[m.TeamID])
	}
	return out, nil
}

func (a *API) listRoleUsers(w http.ResponseWriter, r *http.Request) (any, error) {
	_, t, err := a.teamOf(r)
	if err != nil {
		return nil, err
	}
	ms, err := a.auth.Memberships(r.Context(), t.ID, 0)
	if err != nil {
		return nil, err
	}
	out := make([]assignment, 0, len(ms))
	for _, m := range ms {
		out = append(out, assignmentOf(m))
	}
	return map[string][]assignment{"assignments": out}, nil
}
