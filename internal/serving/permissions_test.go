package serving

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/store"
)

// TestInferenceNeedsRead checks that, with identities on, each inference protocol
// reaches a deployment only for a caller with READ on it, and that listings show only
// those: refused before the lookup, so a refusal does not say whether it exists.
func TestInferenceNeedsRead(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "auth.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	perms := auth.New(db, logger, auth.Options{DefaultPermission: "NO_PERMISSIONS"})
	var ids []*auth.Identity
	for _, name := range []string{"caller", "stranger"} {
		u, err := perms.CreateUser(ctx, auth.NewUser{Name: name, Password: name + "-password-long"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, &auth.Identity{UserID: u.ID, Name: name, Kind: auth.KindUser, Scopes: auth.Read})
	}
	if err := perms.Grant(ctx, nil, auth.Deployment, "gb", auth.Principal{User: "caller"}, auth.LevelRead); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("../onnx/testdata/models/bench_gradient_boosting.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Options{Source: LocalSource{}, Metrics: NewMetrics(prometheus.NewRegistry()), Logger: logger,
		Runtimes: RuntimeConfig{Logger: logger}.Factory()})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d, err := m.Create(ctx, Spec{Name: "gb", Model: src})
	if err != nil {
		t.Fatal(err)
	}
	for !d.Ready() {
		if st := d.Status(); st.State == "failed" {
			t.Fatal(st.Error)
		}
		time.Sleep(time.Millisecond)
	}
	mux := httpx.NewRouter(httpx.RouterOptions{Wrap: nil})
	NewHandler(m, HTTPOptions{Logger: logger, MayRead: func(ctx context.Context, name string) error {
		return perms.Can(ctx, auth.Deployment, name, auth.LevelRead)
	}}).Register(mux)
	meta, _, _ := d.Metadata()
	vals := strings.TrimSuffix(strings.Repeat("0.5,", 20), ",")
	oip := `{"inputs":[{"name":"` + meta.Inputs[0].Name + `","shape":[1,20],"datatype":"FP32","data":[` + vals + `]}]}`
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v2/models/gb", ""},
		{"GET", "/v2/models/gb/ready", ""},
		{"POST", "/v2/models/gb/infer", oip},
		{"POST", "/v1/models/gb:predict", `{"instances":[[` + vals + `]]}`},
		{"POST", "/deployments/gb/invocations", `{"inputs":[[` + vals + `]]}`},
	} {
		for i, id := range ids {
			r := httptest.NewRequest(tc.method, tc.path, bytes.NewReader([]byte(tc.body)))
			r.Header.Set("Content-Type", "application/json")
			r = r.WithContext(auth.WithIdentity(ctx, id))
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if allowed := i == 0; allowed != (w.Code == 200) || (!allowed && w.Code != 403) {
				t.Errorf("%s %s as %s: %d %s", tc.method, tc.path, id.Name, w.Code, w.Body)
			}
		}
	}
	// A stranger is refused a deployment that does not exist alike, and lists nothing.
	for i, id := range ids {
		r := httptest.NewRequest("GET", "/v1/models", nil).WithContext(auth.WithIdentity(ctx, id))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if listed := strings.Contains(w.Body.String(), `"gb"`); listed != (i == 0) {
			t.Errorf("/v1/models as %s: %s", id.Name, w.Body)
		}
	}
	r := httptest.NewRequest("GET", "/v2/models/nope", nil).WithContext(auth.WithIdentity(ctx, ids[1]))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("a missing deployment as a stranger: %d", w.Code)
	}
}
