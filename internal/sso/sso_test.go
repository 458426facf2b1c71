package sso

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		next, want string
		ok         bool
	}{
		{"", "/", true},
		{"/", "/", true},
		{"/ui/models?tab=versions#top", "/ui/models?tab=versions#top", true},
		{"/api/v1/whoami", "/api/v1/whoami", true},
		{"https://evil.example/", "", false},
		{"http://127.0.0.1:5000/", "", false},
		{"//evil.example/x", "", false},
		{"/\\evil.example", "", false},
		{"\\\\evil.example", "", false},
		{"javascript:alert(1)", "", false},
		{"ui/models", "", false},
		{"/x\r\nLocation: https://evil.example", "", false},
		{"/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x", true}, // stays escaped in the Location
		{"https:/evil.example", "", false},
		{"///evil.example", "", false},
	} {
		got, err := localPath(tc.next)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("localPath(%q) = %q, %v; want %q ok=%v", tc.next, got, err, tc.want, tc.ok)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("localPath(%q): %v is not Invalid", tc.next, err)
		}
	}
}

func TestSealer(t *testing.T) {
	a, err := newSealer("secret-a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newSealer("secret-a")
	other, _ := newSealer("secret-b")
	st := loginState{State: "s", Nonce: "n", Verifier: "v", Next: "/x", Expires: time.Unix(1_800_000_000, 0).UTC()}
	sealed, err := a.seal(st)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "/x") {
		t.Error("the sealed state is readable")
	}
	var got loginState
	if err := b.open(sealed, &got); err != nil || got != st {
		t.Fatalf("another replica with the same secret opens %+v %v", got, err)
	}
	raw := []byte(sealed)
	raw[len(raw)/2] ^= 1
	for _, bad := range []string{"", "AAAA", string(raw), sealed[:len(sealed)-2], "!!!"} {
		if err := a.open(bad, &got); err == nil {
			t.Errorf("opened a tampered value %q", bad)
		}
	}
	if err := other.open(sealed, &got); err == nil {
		t.Error("opened with another key")
	}
}

func TestGroupList(t *testing.T) {
	for _, tc := range []struct {
		claim string
		want  []string
		ok    bool
	}{
		{`null`, nil, true},
		{`"fraud"`, []string{"fraud"}, true},
		{`["fraud","risk"]`, []string{"fraud", "risk"}, true},
		{`[]`, []string{}, true},
		{`[1]`, nil, false},
		{`{"a":1}`, nil, false},
		{`7`, nil, false},
	} {
		var v any
		json.Unmarshal([]byte(tc.claim), &v)
		got, err := groupList(v)
		if (err == nil) != tc.ok || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("groupList(%s) = %v, %v", tc.claim, got, err)
		}
	}
}

func TestCheckCSRF(t *testing.T) {
	session := &auth.Identity{Name: "ana", SessionID: 7, CSRFToken: auth.CSRFToken("mlss_secret")}
	token := &auth.Identity{Name: "ana", TokenID: 3}
	for _, tc := range []struct {
		method, header string
		id             *auth.Identity
		ok             bool
	}{
		{"POST", "", session, false},
		{"DELETE", "", session, false},
		{"PATCH", "wrong", session, false},
		{"POST", session.CSRFToken[1:], session, false},
		{"POST", session.CSRFToken, session, true},
		{"GET", "", session, true},
		{"HEAD", "", session, true},
		{"POST", "", token, true}, // Basic and Bearer need none
		{"POST", "", nil, true},
	} {
		r := httptest.NewRequest(tc.method, "/api/2.0/mlflow/runs/create", nil)
		if tc.header != "" {
			r.Header.Set(CSRFHeader, tc.header)
		}
		err := CheckCSRF(r, tc.id)
		if (err == nil) != tc.ok || (err != nil && fault.KindOf(err) != fault.PermissionDenied) {
			t.Errorf("%s with %q as %+v: %v", tc.method, tc.header, tc.id, err)
		}
	}
}

// TestCallbackRefusals are the refusals of /auth/callback decided before the provider is
// asked anything: the provider's address here answers nothing.
func TestCallbackRefusals(t *testing.T) {
	s, err := New(Config{Issuer: "http://127.0.0.1:1", ClientID: "c", ClientSecret: "k",
		RedirectURL: "https://mlship.example/auth/callback"}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	seal := func(st loginState) *http.Cookie {
		v, err := s.seal.seal(st)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Cookie{Name: "__Host-mlship_login", Value: v}
	}
	fresh := loginState{State: "the-state", Nonce: "n", Verifier: "v", Next: "/", Expires: time.Now().Add(time.Minute)}
	stale := fresh
	stale.Expires = time.Now().Add(-time.Second)
	forged := &http.Cookie{Name: "__Host-mlship_login", Value: "bm90IHNlYWxlZA"}
	insecure := &http.Cookie{Name: "mlship_login", Value: seal(fresh).Value}
	for _, tc := range []struct {
		name   string
		query  string
		cookie *http.Cookie
		status int
		msg    string
	}{
		{"no cookie", "state=the-state&code=c", nil, 400, "no state cookie"},
		{"cookie without __Host-", "state=the-state&code=c", insecure, 400, "no state cookie"},
		{"forged cookie", "state=the-state&code=c", forged, 400, "not valid or has expired"},
		{"expired", "state=the-state&code=c", seal(stale), 400, "not valid or has expired"},
		{"wrong state", "state=other&code=c", seal(fresh), 400, "state does not match"},
		{"no state", "code=c", seal(fresh), 400, "state does not match"},
		{"provider refused", "state=the-state&error=access_denied&error_description=no%0Away", seal(fresh), 401, "access_denied: noway"},
		{"no code", "state=the-state", seal(fresh), 400, "no code"},
		{"provider unreachable", "state=the-state&code=c", seal(fresh), 503, "cannot be reached"},
	} {
		r := httptest.NewRequest("GET", "/auth/callback?"+tc.query, nil)
		if tc.cookie != nil {
			r.AddCookie(tc.cookie)
		}
		w := httptest.NewRecorder()
		s.callback(w, r)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.msg) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, w.Code, w.Body, tc.status, tc.msg)
		}
		if c := w.Result().Cookies(); len(c) == 0 || c[0].Name != "__Host-mlship_login" || c[0].MaxAge >= 0 || !c[0].Secure {
			t.Errorf("%s: the state cookie is not cleared: %v", tc.name, c)
		}
	}
}
