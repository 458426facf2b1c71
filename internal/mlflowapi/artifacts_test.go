package mlflowapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// attackPaths are artifact paths, as sent on the wire, that name something outside the
// artifacts directory or smuggle a character no artifact path may hold. The artifacts
// directory is base/data/artifacts and base/outside/sentinel.txt exists.
func attackPaths(base string) map[string]string {
	abs := filepath.ToSlash(filepath.Join(base, "outside", "sentinel.txt"))
	return map[string]string{
		"dotdot":         "../../outside/sentinel.txt",
		"dotdot inside":  "a/../../../outside/sentinel.txt",
		"encoded":        "%2e%2e%2f%2e%2e%2foutside%2fsentinel.txt",
		"double encoded": "%252e%252e%252f%252e%252e%252foutside%252fsentinel.txt",
		"absolute":       strings.ReplaceAll(abs, "/", "%2F"),
		"double slash":   "/" + abs,
		"hash":           "a%23/../../../outside/sentinel.txt",
		"hash in name":   "a%23b.txt",
		"nul":            "sentinel.txt%00.png",
		"backslash":      "a%5c..%5c..%5c..%5coutside%5csentinel.txt",
		"drive":          "C:%5cx",
		"semicolon":      "a/..;/..;/..;/outside/sentinel.txt",
	}
}

// readOnlyAttacks name system files; they are sent only to routes that do not write.
var readOnlyAttacks = map[string]string{
	"etc encoded":      "%2Fetc%2Fpasswd",
	"etc double slash": "//etc/passwd",
}

// artifactRoutes are every route that takes an artifact path, as a function of the
// path: the method and the raw request target, and the body.
func artifactRoutes(runID string) map[string]func(p string) (method, target, body string) {
	return map[string]func(string) (string, string, string){
		"GET artifacts/<p>":    func(p string) (string, string, string) { return "GET", artifacts + "artifacts/" + p, "" },
		"PUT artifacts/<p>":    func(p string) (string, string, string) { return "PUT", artifacts + "artifacts/" + p, "pwned" },
		"DELETE artifacts/<p>": func(p string) (string, string, string) { return "DELETE", artifacts + "artifacts/" + p, "" },
		"GET artifacts?path=":  func(p string) (string, string, string) { return "GET", artifacts + "artifacts?path=" + p, "" },
		"POST mpu/create/<p>": func(p string) (string, string, string) {
			return "POST", artifacts + "mpu/create/" + p, `{"path": "f.bin", "num_parts": 1}`
		},
		"POST mpu/complete/<p>": func(p string) (string, string, string) {
			return "POST", artifacts + "mpu/complete/" + p, `{"path": "f.bin", "upload_id": "00000000000000000000000000000000", "parts": []}`
		},
		"POST mpu/abort/<p>": func(p string) (string, string, string) {
			return "POST", artifacts + "mpu/abort/" + p, `{"path": "f.bin", "upload_id": "00000000000000000000000000000000"}`
		},
		"PUT mpu/part/<p>": func(p string) (string, string, string) {
			return "PUT", artifacts + "mpu/part/" + p + "?upload_id=00000000000000000000000000000000&part_number=1", "pwned"
		},
		"GET artifacts/list": func(p string) (string, string, string) {
			return "GET", api + "artifacts/list?run_id=" + runID + "&path=" + p, ""
		},
	}
}

func TestArtifactPathSecurity(t *testing.T) {
	s := newServer(t, nil)
	_, run := s.createRun(t, "security")
	sentinel := filepath.Join(s.base, "outside", "sentinel.txt")
	if err := os.MkdirAll(filepath.Dir(sentinel), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sentinel, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.do(t, "PUT", artifacts+"artifacts/inside/file.txt", "inside").ok(t)
	before := snapshot(t, s.base)

	paths := attackPaths(s.base)
	for route, build := range artifactRoutes(run) {
		t.Run(route, func(t *testing.T) {
			for name, p := range paths {
				check(t, s, name, build, p)
			}
			if method, _, _ := build(""); method == "GET" {
				for name, p := range readOnlyAttacks {
					check(t, s, name, build, p)
				}
			}
		})
	}
	if after := snapshot(t, s.base); !slices.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
	if b, err := os.ReadFile(sentinel); err != nil || string(b) != "keep" {
		t.Errorf("sentinel = %q, %v", b, err)
	}
}

func check(t *testing.T, s *testServer, name string, build func(string) (string, string, string), p string) {
	t.Helper()
	method, target, body := build(p)
	r := s.raw(t, method, target, strings.NewReader(body), "Content-Type", "application/json")
	if r.status != 400 || !bytes.Contains(r.body, []byte(`"INVALID_PARAMETER_VALUE"`)) {
		t.Errorf("%s %s (%s): status %d %s, want 400 INVALID_PARAMETER_VALUE", method, target, name, r.status, r.body)
	}
}

// snapshot lists the files under dir with their sizes, except the metadata database's,
// which change with every write.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || strings.Contains(d.Name(), "mlship.db") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out = append(out, rel+"/")
		} else {
			out = append(out, fmt.Sprintf("%s %d", rel, info.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArtifactRoundTrip(t *testing.T) {
	s := newServer(t, nil)
	_, run := s.createRun(t, "round-trip")
	runInfo := s.do(t, "GET", api+"runs/get?run_id="+run, nil).ok(t)
	root := strings.TrimPrefix(dig(runInfo, "run", "info", "artifact_uri").(string), "mlflow-artifacts:/")
	dir := root + "/données"
	name := "ü 文件 (1).html"
	escaped := escapePath(dir + "/" + name)
	content := "<html><script>alert(1)</script></html>"
	s.do(t, "PUT", artifacts+"artifacts/"+escaped, content, "Content-Type", "application/octet-stream").ok(t)
	s.do(t, "PUT", artifacts+"artifacts/"+escapePath(dir+"/sub/b.bin"), "0123456789").ok(t)
	s.do(t, "PUT", artifacts+"artifacts/"+escapePath(dir+"/empty.txt"), "").ok(t)

	odd := "lr=0.1,m@host:v2 '$&+!'.png" // characters a URL path keeps but a header parameter must escape
	s.do(t, "PUT", artifacts+"artifacts/"+escapePath(root+"/"+odd), content).ok(t)
	for _, tc := range []struct{ key, name string }{{dir + "/" + name, name}, {root + "/" + odd, odd}} {
		t.Run("download "+tc.name, func(t *testing.T) {
			r := s.do(t, "GET", artifacts+"artifacts/"+escapePath(tc.key), nil)
			if r.status != 200 || string(r.body) != content {
				t.Fatalf("GET = %d %q", r.status, r.body)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			disp, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
			if err != nil || disp != "attachment" || params["filename"] != tc.name {
				t.Errorf("Content-Disposition %q parses as %q %v (%v), want attachment with filename %q",
					r.header.Get("Content-Disposition"), disp, params, err, tc.name)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
		})
	}
	t.Run("range", func(t *testing.T) {
		r := s.do(t, "GET", artifacts+"artifacts/"+escapePath(dir+"/sub/b.bin"), nil, "Range", "bytes=2-5")
		if r.status != http.StatusPartialContent || string(r.body) != "2345" || r.header.Get("Content-Range") != "bytes 2-5/10" {
			t.Errorf("range GET = %d %q %q", r.status, r.body, r.header.Get("Content-Range"))
		}
	})
	t.Run("list", func(t *testing.T) {
		got := s.do(t, "GET", artifacts+"artifacts?path="+url.QueryEscape(dir), nil).ok(t)
		want := `[{"is_dir":false,"path":"empty.txt"},{"is_dir":true,"path":"sub"},{"file_size":38,"is_dir":false,"path":"ü 文件 (1).html"}]`
		if files := compact(t, got["files"]); files != want {
			t.Errorf("list = %s\nwant   %s", files, want)
		}
		// A file, or a missing directory, lists as empty.
		for _, p := range []string{dir + "/sub/b.bin", "no/such/dir"} {
			if files := s.do(t, "GET", artifacts+"artifacts?path="+url.QueryEscape(p), nil).ok(t)["files"]; compact(t, files) != "[]" {
				t.Errorf("list %s = %v", p, files)
			}
		}
		runList := s.do(t, "GET", api+"artifacts/list?run_id="+run+"&path="+url.QueryEscape("données/sub"), nil).ok(t)
		if files := compact(t, runList["files"]); files != `[{"file_size":10,"is_dir":false,"path":"données/sub/b.bin"}]` ||
			runList["root_uri"] != "mlflow-artifacts:/"+root {
			t.Errorf("artifacts/list = %v", runList)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s.do(t, "DELETE", artifacts+"artifacts/"+escaped, nil).ok(t)
		s.do(t, "GET", artifacts+"artifacts/"+escaped, nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
		s.do(t, "DELETE", artifacts+"artifacts/"+escapePath(dir+"/sub"), nil).ok(t)
		s.do(t, "GET", artifacts+"artifacts/"+escapePath(dir+"/sub/b.bin"), nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
		s.do(t, "DELETE", artifacts+"artifacts/"+escapePath(dir+"/never"), nil).ok(t)
		got := s.do(t, "GET", artifacts+"artifacts?path="+url.QueryEscape(dir), nil).ok(t)
		if files := compact(t, got["files"]); files != `[{"is_dir":false,"path":"empty.txt"}]` {
			t.Errorf("list after deletes = %s", files)
		}
		s.do(t, "DELETE", artifacts+"artifacts", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
		s.do(t, "PUT", artifacts+"artifacts/"+escapePath(dir)+"/", "x").wantError(t, 400, "INVALID_PARAMETER_VALUE")
	})
}

func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// compact renders a decoded JSON value canonically.
func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMultipartUpload(t *testing.T) {
	s := newServer(t, nil)
	parts := []string{strings.Repeat("a", 1000), strings.Repeat("b", 10), "c"}
	created := s.do(t, "POST", artifacts+"mpu/create/big/dir", map[string]any{"path": "/home/me/big.bin", "num_parts": len(parts)}).ok(t)
	uploadID, _ := created["upload_id"].(string)
	creds, _ := created["credentials"].([]any)
	if uploadID == "" || len(creds) != len(parts) {
		t.Fatalf("mpu/create = %v", created)
	}
	var done []map[string]any
	for i := len(parts) - 1; i >= 0; i-- { // any order
		u := dig(creds[i], "url").(string)
		if dig(creds[i], "part_number") != float64(i+1) || !strings.HasPrefix(u, s.URL+artifacts+"mpu/part/big/dir/big.bin?") {
			t.Fatalf("credential %d = %v", i, creds[i])
		}
		req, _ := http.NewRequest("PUT", u, strings.NewReader(parts[i]))
		r := s.send(t, req)
		if r.status != 200 || r.header.Get("ETag") == "" {
			t.Fatalf("PUT part %d = %d %s", i+1, r.status, r.body)
		}
		done = append(done, map[string]any{"part_number": i + 1, "etag": r.header.Get("ETag")})
	}
	s.do(t, "POST", artifacts+"mpu/complete/big/dir", map[string]any{"path": "/home/me/big.bin", "upload_id": uploadID, "parts": done}).ok(t)
	if r := s.do(t, "GET", artifacts+"artifacts/big/dir/big.bin", nil); r.status != 200 || string(r.body) != strings.Join(parts, "") {
		t.Errorf("GET after complete = %d, %d bytes", r.status, len(r.body))
	}

	t.Run("bad etag", func(t *testing.T) {
		c := s.do(t, "POST", artifacts+"mpu/create/x", map[string]any{"path": "y.bin", "num_parts": 1}).ok(t)
		req, _ := http.NewRequest("PUT", dig(c, "credentials", 0, "url").(string), strings.NewReader("data"))
		s.send(t, req)
		s.do(t, "POST", artifacts+"mpu/complete/x", map[string]any{"path": "y.bin", "upload_id": c["upload_id"],
			"parts": []any{map[string]any{"part_number": 1, "etag": "0000"}}}).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	})
	t.Run("abort", func(t *testing.T) {
		c := s.do(t, "POST", artifacts+"mpu/create/x", map[string]any{"path": "z.bin", "num_parts": 2}).ok(t)
		req, _ := http.NewRequest("PUT", dig(c, "credentials", 0, "url").(string), strings.NewReader("data"))
		etag := s.send(t, req).header.Get("ETag")
		s.do(t, "POST", artifacts+"mpu/abort/x", map[string]any{"path": "z.bin", "upload_id": c["upload_id"]}).ok(t)
		s.do(t, "POST", artifacts+"mpu/complete/x", map[string]any{"path": "z.bin", "upload_id": c["upload_id"],
			"parts": []any{map[string]any{"part_number": 1, "etag": etag}}}).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
		s.do(t, "GET", artifacts+"artifacts/x/z.bin", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	})
	for _, tc := range []struct{ name, body string }{
		{"no parts", `{"path": "a.bin", "num_parts": 0}`},
		{"too many parts", `{"path": "a.bin", "num_parts": 10001}`},
		{"no path", `{"num_parts": 1}`},
		{"dot path", `{"path": "..", "num_parts": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.do(t, "POST", artifacts+"mpu/create/x", tc.body).wantError(t, 400, "INVALID_PARAMETER_VALUE")
		})
	}
}
