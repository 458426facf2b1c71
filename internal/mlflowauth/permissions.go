package mlflowauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
)

// MLflow's resource types that are objects of mlship's; the last two are mlship's own.
var resourceKinds = map[string]auth.ObjectKind{
	"experiment":       auth.Experiment,
	"registered_model": auth.RegisteredModel,
	"dataset":          auth.Dataset,
	"deployment":       auth.Deployment,
}

// unsupportedResource explains why MLflow's resource types that are no object of
// mlship's are refused.
func unsupportedResource(typ string) error {
	why := "mlship has no such object"
	switch typ {
	case "run", "logged_model", "trace", "assessment":
		why = "in mlship it follows its experiment: grant on the experiment"
	case "registered_model_version":
		why = "in mlship a version follows its registered model: grant on the registered_model"
	case "workspace":
		why = "mlship has one workspace, open to every user, whose users and roles administrators manage"
	}
	return fault.Invalidf("resource_type '%s' is not supported (%s): mlship grants permissions on experiment, registered_model, dataset and deployment", typ, why)
}

// resourceOf reads resource_type and the id parameter named idParam (resource_id, or a
// role permission's resource_pattern): one object, or "*" for every object of the type
// (which only an administrator grants). No other pattern exists in MLflow either.
func resourceOf(p params, idParam string) (auth.ObjectKind, string, error) {
	typ, err := p.str("resource_type")
	if err != nil {
		return "", "", err
	}
	kind, ok := resourceKinds[typ]
	if !ok {
		return "", "", unsupportedResource(typ)
	}
	id, err := p.str(idParam)
	if err != nil {
		return "", "", err
	}
	if strings.TrimSpace(id) == "" {
		return "", "", fault.Invalidf("%s must name one %s, or be \"*\" for every one", idParam, typ)
	}
	return kind, id, nil
}

// userResource reads the parameters of the users/permissions routes: the user's name
// and the object.
func userResource(r *http.Request) (p params, name string, kind auth.ObjectKind, object string, err error) {
	if p, err = readParams(r); err != nil {
		return nil, "", "", "", err
	}
	if name, err = p.str("username"); err != nil {
		return nil, "", "", "", err
	}
	kind, object, err = resourceOf(p, "resource_id")
	return p, name, kind, object, err
}

// levelOf reads a permission name: READ, USE, EDIT, MANAGE or DENY. NO_PERMISSIONS,
// the absence of a grant, is refused when granted.
func levelOf(p params) (auth.Level, error) {
	name, err := p.str("permission")
	if err != nil {
		return 0, err
	}
	return auth.ParseLevel(name)
}

// grantUserPermission gives a user a permission on one object. Like MLflow's app, it
// refuses a grant the user already holds on the object; the caller needs MANAGE on it.
func (a *API) grantUserPermission(w http.ResponseWriter, r *http.Request) (any, error) {
	p, name, kind, object, err := userResource(r)
	if err != nil {
		return nil, err
	}
	level, err := levelOf(p)
	if err != nil {
		return nil, err
	}
	if _, err := a.auth.GetUser(r.Context(), name); err != nil {
		return nil, err
	}
	caller := auth.From(r.Context())
	if held, err := a.userGrant(r, caller, kind, object, name); err != nil || held != nil {
		if err == nil {
			err = fault.New(fault.AlreadyExists, "Permission for user=%s on resource_type=%s, resource_id=%s already exists.", name, kind, object)
		}
		return nil, err
	}
	if err := a.auth.Grant(r.Context(), caller, kind, object, auth.Principal{User: name}, level); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// userGrant returns the grant user holds on object, or nil; listing the grants needs
// MANAGE on the object, as changing them does.
func (a *API) userGrant(r *http.Request, caller *auth.Identity, kind auth.ObjectKind, object, user string) (*auth.GrantInfo, error) {
	grants, err := a.auth.ListGrants(r.Context(), caller, kind, object)
	if err != nil {
		return nil, err
	}
	for i := range grants {
		if grants[i].User == user {
			return &grants[i], nil
		}
	}
	return nil, nil
}

func (a *API) revokeUserPermission(w http.ResponseWriter, r *http.Request) (any, error) {
	_, name, kind, object, err := userResource(r)
	if err != nil {
		return nil, err
	}
	if _, err := a.auth.GetUser(r.Context(), name); err != nil {
		return nil, err
	}
	err = a.auth.Revoke(r.Context(), auth.From(r.Context()), kind, object, auth.Principal{User: name})
	if errors.Is(err, fault.NotFound) {
		return nil, fault.NotFoundf("Permission for user=%s on resource_type=%s, resource_id=%s not found.", name, kind, object)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// getUserPermission answers what a user may do with one object, as a request of theirs
// would be judged: allowed is whether it may use it (USE or more). An administrator, the
// user itself, or a manager of the object may ask.
func (a *API) getUserPermission(w http.ResponseWriter, r *http.Request) (any, error) {
	_, name, kind, object, err := userResource(r)
	if err != nil {
		return nil, err
	}
	u, err := a.auth.GetUser(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if caller := auth.From(r.Context()); !isAdmin(caller) && caller.Name != name {
		if err := a.auth.Can(r.Context(), kind, object, auth.LevelManage); err != nil {
			return nil, errForbidden
		}
	}
	level, err := a.auth.LevelOf(r.Context(), &auth.Identity{UserID: u.ID, Name: u.Name, Kind: u.Kind, Admin: u.Admin}, kind, object)
	if err != nil {
		return nil, err
	}
	return map[string]any{"allowed": level >= auth.LevelUse, "permission": level.String()}, nil
}

// permissionRow is one row of MLflow's users/permissions/list: a grant a user holds,
// with the role it holds it through.
type permissionRow struct {
	RoleID          int64  `json:"role_id"`
	RoleName        string `json:"role_name"`
	Workspace       string `json:"workspace"`
	ResourceType    string `json:"resource_type"`
	ResourcePattern string `json:"resource_pattern"`
	Permission      string `json:"permission"`
}

// listCurrentUserPermissions lists the caller's grants (users/current/permissions).
func (a *API) listCurrentUserPermissions(w http.ResponseWriter, r *http.Request) (any, error) {
	id := auth.From(r.Context())
	if id == nil {
		return nil, errNoCurrentUser
	}
	u, err := a.auth.GetUser(r.Context(), id.Name)
	if err != nil {
		return nil, err
	}
	return a.userPermissions(r, u)
}

// listUserPermissions lists a user's grants (users/permissions/list), for the user
// itself or an administrator.
func (a *API) listUserPermissions(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := a.viewedUser(r)
	if err != nil {
		return nil, err
	}
	return a.userPermissions(r, u)
}

// userPermissions lists every grant u holds as MLflow's app does: its own grants as
// those of its synthetic role __user_<id>__ (which MLflow's UI shows as direct
// permissions; mlship keeps no such role, so its role_id is 0), then the grants of
// each role (team) it holds.
func (a *API) userPermissions(r *http.Request, u *auth.User) (any, error) {
	ctx := r.Context()
	own, err := a.auth.GrantsOf(ctx, nil, auth.Principal{User: u.Name})
	if err != nil {
		return nil, err
	}
	rows := make([]permissionRow, 0, len(own))
	for _, g := range own {
		rows = append(rows, permissionRow{RoleName: fmt.Sprintf("__user_%d__", u.ID), Workspace: defaultWorkspace,
			ResourceType: string(g.Kind), ResourcePattern: g.Object, Permission: g.Level})
	}
	ms, err := a.auth.Memberships(ctx, 0, u.ID)
	if err != nil || len(ms) == 0 {
		return map[string]any{"is_admin": u.Admin, "permissions": rows}, err
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.TeamID
	}
	grants, err := a.auth.TeamGrants(ctx, ids...)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		t, err := a.auth.TeamByID(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, g := range grants[id] {
			rp := permissionOf(g)
			rows = append(rows, permissionRow{RoleID: id, RoleName: t.Name, Workspace: defaultWorkspace,
				ResourceType: rp.ResourceType, ResourcePattern: rp.ResourcePattern, Permission: rp.Permission})
		}
	}
	return map[string]any{"is_admin": u.Admin, "permissions": rows}, nil
}
