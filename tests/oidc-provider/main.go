// Command oidc-provider is the OpenID provider the end-to-end tests sign in through: a
// certified provider library (github.com/zitadel/oidc's op) with its example login form,
// one confidential client, and users held in memory whose groups come in the ID token's
// "groups" claim when the client asks for the groups scope.
//
//	oidc-provider --addr 127.0.0.1:5556 --client-id mlship --client-secret s3cret \
//	  --redirect-uri http://127.0.0.1:5000/auth/callback --user 'ana:ana-password:ana@example.com:ml-team,other'
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

type users struct {
	byID   map[string]*storage.User
	groups map[string][]string // by user id
}

func (u users) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u users) ExampleClientID() string             { return "" }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}

// withGroups is the example's in-memory storage, with the groups claim added to what it
// says of a user.
type withGroups struct {
	*storage.Storage
	users users
}

func (s *withGroups) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, "groups") {
		info.AppendClaims("groups", s.users.groups[req.GetSubject()])
	}
	if user := s.users.byID[req.GetSubject()]; user != nil && slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = user.Username
	}
	return nil
}

func (s *withGroups) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return groupsClient{c}, nil
}

// groupsClient allows the groups scope and puts the user's claims in the ID token, as
// Keycloak, Okta and Dex can be told to.
type groupsClient struct{ op.Client }

func (groupsClient) IsScopeAllowed(scope string) bool     { return scope == "groups" }
func (groupsClient) IDTokenUserinfoClaimsAssertion() bool { return true }

type userFlags []string

func (u *userFlags) String() string     { return strings.Join(*u, " ") }
func (u *userFlags) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:5556", "address to listen on")
	clientID := flag.String("client-id", "mlship", "the client's id")
	clientSecret := flag.String("client-secret", "", "the client's secret")
	redirect := flag.String("redirect-uri", "", "the client's redirect URI")
	var list userFlags
	flag.Var(&list, "user", "NAME:PASSWORD:EMAIL:GROUP,GROUP (repeatable)")
	flag.Parse()
	if err := run(*addr, *clientID, *clientSecret, *redirect, list); err != nil {
		fmt.Fprintln(os.Stderr, "oidc-provider:", err)
		os.Exit(1)
	}
}

func run(addr, clientID, clientSecret, redirect string, list []string) error {
	us := users{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for i, spec := range list {
		parts := strings.SplitN(spec, ":", 4)
		if len(parts) != 4 {
			return fmt.Errorf("--user %q: want NAME:PASSWORD:EMAIL:GROUPS", spec)
		}
		id := fmt.Sprintf("sub-%d-%s", i+1, parts[0])
		us.byID[id] = &storage.User{ID: id, Username: parts[0], Password: parts[1], Email: parts[2],
			EmailVerified: true, FirstName: parts[0], LastName: "Test", PreferredLanguage: language.English}
		us.groups[id] = []string{}
		for _, g := range strings.Split(parts[3], ",") {
			if g != "" {
				us.groups[id] = append(us.groups[id], g)
			}
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()
	storage.RegisterClients(storage.WebClient(clientID, clientSecret, redirect))
	store := &withGroups{Storage: storage.NewStorage(us), users: us}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(issuer, store, logger, false)
	fmt.Println("listening", issuer)
	return http.Serve(ln, router)
}
