package api

import (
	"net/http"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
)

// maxEffectiveObjects caps the objects one question about effective permissions names:
// a page of a list, not a whole table.
const maxEffectiveObjects = 500

// effectiveAnswer is what the caller may do: create objects of each kind, and, on each
// object the request named, its level and the actions it allows. A client (the UI) shows
// only the actions the answer allows; the server still checks every request.
type effectiveAnswer struct {
	Auth   bool     `json:"auth"`
	Admin  bool     `json:"admin"`
	Scopes []string `json:"scopes"`
	// Create is, for each object kind, whether the caller may create one.
	Create map[auth.ObjectKind]bool `json:"create"`
	Kind   auth.ObjectKind          `json:"kind,omitempty"`
	// Objects are the named objects' effective permissions, by id (an experiment) or
	// name (the other kinds).
	Objects map[string]effective `json:"objects"`
}

// effective is the caller's permission on one object and what it allows, the token's
// scopes included: a read-scoped token holds MANAGE in vain.
type effective struct {
	Permission string `json:"permission"`
	Can        can    `json:"can"`
}

// can are the actions a level and the scopes allow together, as the routes check them:
// read and use need the read scope; edit and manage the scope that changes objects of
// the kind (deploy for deployments, write for the others).
type can struct {
	Read   bool `json:"read"`
	Use    bool `json:"use"`
	Edit   bool `json:"edit"`
	Manage bool `json:"manage"`
}

// changeScope is the scope the routes that change objects of kind declare.
func changeScope(kind auth.ObjectKind) auth.Scopes {
	if kind == auth.Deployment {
		return auth.Deploy
	}
	return auth.Write
}

var objectKinds = []auth.ObjectKind{auth.Experiment, auth.RegisteredModel, auth.Dataset, auth.Deployment}

// effectivePermissions answers GET /api/v1/permissions/effective?kind=K&object=ID...: one
// request for a whole page of objects, each answered from the caller's cached grants.
func (a *API) effectivePermissions(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	objects := q["object"]
	if len(objects) > maxEffectiveObjects {
		return nil, fault.Invalidf("at most %d objects per request, got %d", maxEffectiveObjects, len(objects))
	}
	var kind auth.ObjectKind
	if q.Get("kind") != "" || len(objects) > 0 {
		var err error
		if kind, err = auth.ParseKind(q.Get("kind")); err != nil {
			return nil, err
		}
	}
	id := auth.From(r.Context())
	out := effectiveAnswer{Auth: id != nil, Admin: id == nil || id.Admin, Scopes: auth.AllScopes.Names(), Kind: kind,
		Create: map[auth.ObjectKind]bool{}, Objects: map[string]effective{}}
	scopes := auth.AllScopes
	if id != nil {
		scopes, out.Admin, out.Scopes = id.Scopes, id.Admin, id.Scopes.Names()
	}
	for _, k := range objectKinds {
		out.Create[k] = scopes.Has(changeScope(k))
	}
	for _, object := range objects {
		level := auth.LevelManage // identities off: everything is allowed
		if id != nil {
			var err error
			if level, err = a.auth.LevelOf(r.Context(), id, kind, object); err != nil {
				return nil, err
			}
		}
		out.Objects[object] = effective{Permission: level.String(), Can: can{
			Read:   level >= auth.LevelRead && scopes.Has(auth.Read),
			Use:    level >= auth.LevelUse && scopes.Has(auth.Read),
			Edit:   level >= auth.LevelEdit && scopes.Has(changeScope(kind)),
			Manage: level >= auth.LevelManage && scopes.Has(changeScope(kind)),
		}}
	}
	return out, nil
}
