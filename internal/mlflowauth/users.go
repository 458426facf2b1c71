package mlflowauth

import (
	"net"
	"net/http"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// user is MLflow's User entity as its app sends it: never a password hash.
type user struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	IsAdmin  bool   `json:"is_admin"`
}

func userOf(u *auth.User) user { return user{ID: u.ID, Username: u.Name, IsAdmin: u.Admin} }

func (a *API) createUser(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, _, err := p.optStr("username")
	if err != nil {
		return nil, err
	}
	password, _, err := p.optStr("password")
	if err != nil {
		return nil, err
	}
	if name == "" || password == "" {
		return nil, fault.Invalidf("Username and password cannot be empty.")
	}
	u, err := a.auth.CreateUser(r.Context(), auth.NewUser{Name: name, Password: password})
	if err != nil {
		return nil, err
	}
	return map[string]user{"user": userOf(u)}, nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := a.viewedUser(r)
	if err != nil {
		return nil, err
	}
	return map[string]user{"user": userOf(u)}, nil
}

// viewedUser returns the user the username parameter names, for the user itself or an
// administrator: anyone else is refused before learning whether the user exists.
func (a *API) viewedUser(r *http.Request) (*auth.User, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, err := p.str("username")
	if err != nil {
		return nil, err
	}
	if err := selfOrAdmin(auth.From(r.Context()), name); err != nil {
		return nil, err
	}
	return a.auth.GetUser(r.Context(), name)
}

// listedUser is a user in MLflow's user list, with the roles (teams) it holds.
type listedUser struct {
	user
	Roles []role `json:"roles"`
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) (any, error) {
	users, err := a.auth.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	roles, err := a.rolesOf(r)
	if err != nil {
		return nil, err
	}
	out := make([]listedUser, 0, len(users))
	for i := range users {
		out = append(out, listedUser{user: userOf(&users[i]), Roles: append([]role{}, roles[users[i].ID]...)})
	}
	return map[string]any{"users": out}, nil
}

// errNoCurrentUser answers a request for the caller's identity with identities off.
var errNoCurrentUser = fault.Invalidf("there is no current user: the server does not check identities (start it with --auth)")

func (a *API) currentUser(w http.ResponseWriter, r *http.Request) (any, error) {
	id := auth.From(r.Context())
	if id == nil {
		return nil, errNoCurrentUser
	}
	return map[string]any{"user": user{ID: id.UserID, Username: id.Name, IsAdmin: id.Admin}, "is_basic_auth": true}, nil
}

// updatePassword sets a user's password. A user changing its own password gives the
// current one (so that a borrowed session cannot take the account); an administrator
// changing another's does not.
func (a *API) updatePassword(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, err := p.str("username")
	if err != nil {
		return nil, err
	}
	password, err := p.str("password")
	if err != nil {
		return nil, err
	}
	id := auth.From(r.Context())
	if err := selfOrAdmin(id, name); err != nil {
		return nil, err
	}
	if id != nil && id.Name == name {
		if err := a.checkCurrentPassword(r, p, name, password); err != nil {
			return nil, err
		}
	}
	if _, err := a.auth.UpdateUser(r.Context(), name, auth.UserUpdate{Password: &password}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) checkCurrentPassword(r *http.Request, p params, name, password string) error {
	current, _, err := p.optStr("current_password")
	if err != nil {
		return err
	}
	if current == "" {
		return fault.Invalidf("Current password is required when changing your own password.")
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	// Signing in counts a wrong current password as a failed sign-in, so that this
	// route is no way around the limit on password guesses.
	if _, err := a.auth.SignIn(r.Context(), name, current, client); err != nil {
		if auth.IsBadCredentials(err) {
			return fault.Invalidf("Current password does not match.")
		}
		return err
	}
	if password == current {
		return fault.Invalidf("New password must differ from the current password.")
	}
	return nil
}

func (a *API) updateAdmin(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, err := p.str("username")
	if err != nil {
		return nil, err
	}
	admin, err := p.boolean("is_admin")
	if err != nil {
		return nil, err
	}
	if _, err := a.auth.UpdateUser(r.Context(), name, auth.UserUpdate{Admin: &admin}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := readParams(r)
	if err != nil {
		return nil, err
	}
	name, err := p.str("username")
	if err != nil {
		return nil, err
	}
	if id := auth.From(r.Context()); id != nil && id.Name == name {
		return nil, &httpx.CodedError{Code: "BAD_REQUEST", Err: fault.Invalidf(
			"Users cannot delete their own account. Ask another admin to delete this user instead.")}
	}
	if err := a.auth.DeleteUser(r.Context(), name); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}
