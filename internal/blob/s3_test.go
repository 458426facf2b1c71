package blob_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/blob/blobtest"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/fault"
)

// The S3 tests run against a real S3-compatible server that checks request signatures:
//   - MLSHIP_TEST_S3_ENDPOINT (with MLSHIP_TEST_S3_BUCKET and the AWS_* credentials) names
//     one that is already running, for example MinIO;
//   - otherwise tests/s3/server.py (moto) is started with MLSHIP_TEST_S3_PYTHON, or with
//     .venv-s3/bin/python, which `make deps` installs.
//
// Without either they are skipped, saying so.

const testBucket = "mlship-test"

type s3Server struct {
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	bucket    string
	err       error
	skip      string
}

var (
	s3Once   sync.Once
	s3Shared s3Server
	s3Seq    atomic.Int64

	s3ServerStdin io.WriteCloser
)

// testS3 returns the server, starting it on first use; the process that runs it ends when
// the test binary does (its standard input closes).
func testS3(t *testing.T) s3Server {
	t.Helper()
	s3Once.Do(func() { s3Shared = startS3() })
	switch {
	case s3Shared.skip != "":
		t.Skip(s3Shared.skip)
	case s3Shared.err != nil:
		t.Fatal(s3Shared.err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3Shared.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Shared.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("MLFLOW_S3_ENDPOINT_URL", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no instance metadata service here
	if os.Getenv("MLSHIP_TEST_S3_ENDPOINT") == "" {
		// moto answers 500 now and then when an object is read while it is overwritten
		// ("seek of closed file" in its key buffer): the SDK's retries, more of them, hide it.
		t.Setenv("AWS_MAX_ATTEMPTS", "10")
	}
	return s3Shared
}

func startS3() s3Server {
	if ep := os.Getenv("MLSHIP_TEST_S3_ENDPOINT"); ep != "" {
		b := os.Getenv("MLSHIP_TEST_S3_BUCKET")
		if b == "" {
			return s3Server{err: errors.New("MLSHIP_TEST_S3_ENDPOINT is set without MLSHIP_TEST_S3_BUCKET")}
		}
		return s3Server{Endpoint: ep, Region: os.Getenv("AWS_REGION"), bucket: b,
			AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	}
	python := os.Getenv("MLSHIP_TEST_S3_PYTHON")
	root, _ := filepath.Abs("../..")
	if python == "" {
		python = filepath.Join(root, ".venv-s3", "bin", "python")
		if _, err := os.Stat(python); err != nil {
			return s3Server{skip: "no S3 server: set MLSHIP_TEST_S3_ENDPOINT, or run `make deps` (moto, in .venv-s3) to test the S3 driver"}
		}
	}
	cmd := exec.Command(python, filepath.Join(root, "tests", "s3", "server.py"), "--bucket", testBucket)
	var stderr bytes.Buffer // moto logs every request: shown only if it does not start
	cmd.Stderr = &stderr
	// Closed when this process exits, and not before (a global, so no finalizer closes it):
	// then the server stops.
	s3ServerStdin, _ = cmd.StdinPipe()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return s3Server{err: err}
	}
	if err := cmd.Start(); err != nil {
		return s3Server{err: fmt.Errorf("start the S3 test server: %w", err)}
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		cmd.Wait()
		return s3Server{err: fmt.Errorf("the S3 test server did not start: %w\n%s", err, stderr.String())}
	}
	var s s3Server
	if err := json.Unmarshal(line, &s); err != nil {
		return s3Server{err: fmt.Errorf("the S3 test server said %q: %w", line, err)}
	}
	s.bucket = testBucket
	return s
}

// uri returns an s3:// URI of a prefix no other test uses.
func (s s3Server) uri(t *testing.T) string {
	return fmt.Sprintf("s3://%s/%s-%d?endpoint=%s&region=%s", s.bucket,
		strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), s3Seq.Add(1),
		url.QueryEscape(s.Endpoint), url.QueryEscape(s.Region))
}

func openS3(t *testing.T, uri string) blob.Store {
	t.Helper()
	st, err := blob.Open(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Walk(context.Background(), "", func(i blob.Info) error {
			return st.Delete(context.Background(), i.Key)
		}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		st.Close()
	})
	return st
}

func TestS3Conformance(t *testing.T) {
	srv := testS3(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return openS3(t, srv.uri(t)) })
}

// TestS3WrongSecret proves that the test server checks signatures: the same key id with
// another secret is refused.
func TestS3WrongSecret(t *testing.T) {
	srv := testS3(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-"+srv.SecretKey)
	_, err := blob.Open(t.Context(), srv.uri(t))
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Open with a wrong secret = %v, want a 403 refusal", err)
	}
}

// TestS3LargeObject streams an object of several parts through Put, reads ranges of it and
// copies it server-side.
func TestS3LargeObject(t *testing.T) {
	srv := testS3(t)
	st := openS3(t, srv.uri(t))
	data := make([]byte, 2*blob.S3PartSize+12345)
	rand.Read(data)
	// Not a bytes.Reader: Put cannot know the size.
	n, err := st.Put(t.Context(), "big/model.bin", io.MultiReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("Put = %d, %v", n, err)
	}
	obj, err := st.Open(t.Context(), "big/model.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Info().Size != int64(len(data)) {
		t.Fatalf("size %d", obj.Info().Size)
	}
	for _, off := range []int64{blob.S3PartSize - 3, 5, int64(len(data)) - 10} {
		if _, err := obj.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(obj, buf); err != nil || !bytes.Equal(buf, data[off:off+10]) {
			t.Fatalf("read at %d = %v", off, err)
		}
	}

	dst := openS3(t, srv.uri(t))
	copied, err := dst.(blob.Copier).CopyFrom(t.Context(), st, obj, "copy/of/model.bin")
	if err != nil || !copied {
		t.Fatalf("CopyFrom = %v, %v", copied, err)
	}
	got, err := dst.Open(t.Context(), "copy/of/model.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	b, _ := io.ReadAll(got)
	if !bytes.Equal(b, data) {
		t.Fatalf("the copy differs (%d bytes)", len(b))
	}

	// A copy of an object that changed since it was opened is refused.
	if _, err := st.Put(t.Context(), "big/model.bin", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.(blob.Copier).CopyFrom(t.Context(), st, obj, "copy/stale"); err == nil {
		t.Fatal("CopyFrom of a changed object succeeded")
	}
	// A local store cannot be copied from.
	local := newLocal(t, t.TempDir())
	if _, err := local.Put(t.Context(), "x", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	lo, _ := local.Open(t.Context(), "x")
	defer lo.Close()
	if ok, err := dst.(blob.Copier).CopyFrom(t.Context(), local, lo, "x"); ok || err != nil {
		t.Fatalf("CopyFrom(local) = %v, %v; want false, nil", ok, err)
	}
}

func TestS3URIErrors(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, uri := range []string{
		"s3:///prefix", "s3://b/p?endpoint=ftp://x", "s3://b/p?path_style=maybe", "s3://b/p?token=x", "s3://b/a/../b",
	} {
		_, err := blob.Open(t.Context(), uri)
		if fault.KindOf(err) != fault.Invalid {
			t.Errorf("Open(%q) = %v, want an invalid URI", uri, err)
		}
	}
}

// putCounter is an S3 store that counts its Puts; CopyFrom stays promoted, so it is still
// a blob.Copier.
type putCounter struct {
	*blob.S3
	puts atomic.Int64
}

func (p *putCounter) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	p.puts.Add(1)
	return p.S3.Put(ctx, key, r)
}

// TestS3RegisterCopiesServerSide imports a run's artifacts into a content store in the
// bucket: the files are copied within the bucket, and only the manifest is uploaded.
func TestS3RegisterCopiesServerSide(t *testing.T) {
	srv := testS3(t)
	artifacts := openS3(t, srv.uri(t))
	for _, k := range []string{"run/model/MLmodel", "run/model/model.pkl", "run/model/data/weights.bin"} {
		if _, err := artifacts.Put(t.Context(), k, strings.NewReader("bytes of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	content := &putCounter{S3: openS3(t, srv.uri(t)).(*blob.S3)}
	m, _, err := cas.New(content, "cas").ImportDir(t.Context(), artifacts, "run/model", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	if n := content.puts.Load(); n != 1 {
		t.Errorf("the content store was written %d times, want once (the manifest): the files should be copied server-side", n)
	}
}

// TestS3PresignedParts uploads the parts of a multipart upload straight to the bucket with
// the URLs PresignPart hands out, as MLflow's client does, and completes it with the ETags
// the bucket answered.
func TestS3PresignedParts(t *testing.T) {
	srv := testS3(t)
	plain := openS3(t, srv.uri(t))
	if _, _, ok, err := plain.(blob.PartPresigner).PresignPart(t.Context(), "k", "x", 1, time.Minute); ok || err != nil {
		t.Fatalf("PresignPart without presigned_urls = %v, %v; want false", ok, err)
	}
	st := openS3(t, srv.uri(t)+"&presigned_urls=true").(blob.PartPresigner)
	store := st.(blob.Store)
	const key = "big/model.bin"
	id, err := store.CreateMultipart(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	put := func(u string, headers map[string]string, body string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, u, strings.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return http.DefaultClient.Do(req)
	}
	var parts []blob.Part
	for i, body := range []string{"first part, ", "second part"} {
		u, headers, ok, err := st.PresignPart(t.Context(), key, id, i+1, time.Minute)
		if err != nil || !ok || !strings.HasPrefix(u, srv.Endpoint+"/") {
			t.Fatalf("PresignPart = %q, %v, %v", u, ok, err)
		}
		resp, err := put(u, headers, body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d = %s", i+1, resp.Status)
		}
		parts = append(parts, blob.Part{Number: i + 1, ETag: resp.Header.Get("ETag")})

		// The URL is signed: another part number, or another signature, is refused.
		tampered := strings.Replace(u, "partNumber="+strconv.Itoa(i+1), "partNumber=9", 1)
		resp, err = put(tampered, headers, "evil")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("PUT with a changed part number = %s, want 403", resp.Status)
		}
	}
	if _, _, _, err := st.PresignPart(t.Context(), "other", id, 1, time.Minute); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("PresignPart for another key's upload = %v", err)
	}
	n, err := store.CompleteMultipart(t.Context(), key, id, parts)
	if err != nil || n != int64(len("first part, second part")) {
		t.Fatalf("CompleteMultipart = %d, %v", n, err)
	}
	obj, err := store.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if b, _ := io.ReadAll(obj); string(b) != "first part, second part" {
		t.Errorf("got %q", b)
	}
}

// TestS3CopyOntoItself freshens an object's modification time without moving its bytes, as
// the content store does to keep an object that a new manifest references from GC.
func TestS3CopyOntoItself(t *testing.T) {
	srv := testS3(t)
	st := openS3(t, srv.uri(t))
	if _, err := st.Put(t.Context(), "cas/obj", strings.NewReader("content")); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Stat(t.Context(), "cas/obj")
	time.Sleep(1100 * time.Millisecond) // LastModified has whole seconds
	obj, err := st.Open(t.Context(), "cas/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if ok, err := st.(blob.Copier).CopyFrom(t.Context(), st, obj, "cas/obj"); !ok || err != nil {
		t.Fatalf("CopyFrom onto itself = %v, %v", ok, err)
	}
	after, _ := st.Stat(t.Context(), "cas/obj")
	if !after.ModTime.After(before.ModTime) || after.Size != before.Size {
		t.Errorf("after the copy onto itself: %+v, before %+v", after, before)
	}
	if got, _ := io.ReadAll(mustOpen(t, st, "cas/obj")); string(got) != "content" {
		t.Errorf("got %q", got)
	}
}

func mustOpen(t *testing.T, st blob.Store, key string) blob.Object {
	t.Helper()
	obj, err := st.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obj.Close() })
	return obj
}

// TestS3PresignedGet reads an object in ranges from the URL PresignGet hands out; the URL
// serves only the version it was made for.
func TestS3PresignedGet(t *testing.T) {
	srv := testS3(t)
	st := openS3(t, srv.uri(t)+"&presigned_urls=true")
	if _, err := st.Put(t.Context(), "d/file.bin", strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	p := st.(blob.GetPresigner)
	u, headers, size, err := p.PresignGet(t.Context(), "d/file.bin", time.Minute)
	if err != nil || size != 10 || !strings.HasPrefix(u, srv.Endpoint+"/") {
		t.Fatalf("PresignGet = %q, %d, %v", u, size, err)
	}
	get := func(u, rng string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(u, "bytes=3-5"); code != http.StatusPartialContent || body != "345" {
		t.Errorf("ranged GET = %d %q", code, body)
	}
	if code, _ := get(strings.Replace(u, "file.bin", "other.bin", 1), "bytes=0-1"); code != http.StatusForbidden {
		t.Errorf("GET of another key with the URL = %d, want 403", code)
	}
	if _, err := st.Put(t.Context(), "d/file.bin", strings.NewReader("changed")); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(u, "bytes=0-1"); code != http.StatusPreconditionFailed {
		t.Errorf("GET after the object changed = %d, want 412", code)
	}
	for _, key := range []string{"d/missing", "d"} {
		if _, _, _, err := p.PresignGet(t.Context(), key, time.Minute); err == nil {
			t.Errorf("PresignGet(%q) succeeded", key)
		}
	}
	if openS3(t, srv.uri(t)).(blob.GetPresigner).PresignsGets() {
		t.Error("a store without presigned_urls presigns")
	}
}
