package api

import (
	"net/http"
	"strconv"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
)

// whoAmI is the caller as the server sees it.
type whoAmI struct {
	// Auth is whether the server checks identities (--auth); without, every request
	// may do everything and the other fields are empty.
	Auth    bool     `json:"auth"`
	Name    string   `json:"name,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Admin   bool     `json:"admin"`
	Scopes  []string `json:"scopes"`
	TokenID int64    `json:"token_id,omitempty"`
	// CSRFToken is, for a browser session, what its state-changing requests carry in
	// X-CSRF-Token.
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (a *API) whoAmI(w http.ResponseWriter, r *http.Request) (any, error) {
	id := auth.From(r.Context())
	if id == nil {
		return whoAmI{Auth: false, Scopes: auth.AllScopes.Names()}, nil
	}
	return whoAmI{Auth: true, Name: id.Name, Kind: id.Kind, Admin: id.Admin, Scopes: id.Scopes.Names(), TokenID: id.TokenID,
		CSRFToken: id.CSRFToken}, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) (any, error) {
	users, err := a.auth.ListUsers(r.Context())
	return map[string]any{"users": users}, err
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) (any, error) {
	var req auth.NewUser
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	u, err := a.auth.CreateUser(r.Context(), req)
	if err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusCreated)
	return u, nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) (any, error) {
	return a.auth.GetUser(r.Context(), r.PathValue("name"))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) (any, error) {
	var req auth.UserUpdate
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	return a.auth.UpdateUser(r.Context(), r.PathValue("name"), req)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]any{}, a.auth.DeleteUser(r.Context(), r.PathValue("name"))
}

// createdToken is a new token: the only answer that carries its secret.
type createdToken struct {
	auth.Token
	Secret string `json:"token"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) (any, error) {
	var req auth.NewToken
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	id := auth.From(r.Context())
	if id == nil {
		return nil, fault.Invalidf("tokens are for a server that checks identities: start it with --auth")
	}
	secret, t, err := a.auth.CreateToken(r.Context(), id, req)
	if err != nil {
		return nil, err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	return createdToken{Token: *t, Secret: secret}, nil
}

// listTokens lists the caller's tokens; an administrator lists anyone's with ?user=NAME,
// or everyone's with ?user=*.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request) (any, error) {
	id := auth.From(r.Context())
	if id == nil {
		return map[string]any{"tokens": []auth.Token{}}, nil
	}
	user := id.Name
	if q := r.URL.Query().Get("user"); q != "" && q != id.Name {
		if !id.Scopes.Has(auth.Admin) {
			return nil, fault.New(fault.PermissionDenied, "only an administrator lists another user's tokens")
		}
		user = q
		if q == "*" {
			user = ""
		}
	}
	tokens, err := a.auth.ListTokens(r.Context(), user)
	return map[string]any{"tokens": tokens}, err
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return nil, fault.Invalidf("token id %q is not a number", r.PathValue("id"))
	}
	id := auth.From(r.Context())
	if id == nil {
		return nil, fault.Invalidf("tokens are for a server that checks identities: start it with --auth")
	}
	return map[string]any{}, a.auth.RevokeToken(r.Context(), id, n)
}
