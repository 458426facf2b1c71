// Package blobtest is the conformance suite for blob.Store: every driver runs it, so that
// the local filesystem and S3 behave alike (lakeFS's blocktest does the same for its
// adapters).
package blobtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// Run runs the suite. newStore returns an empty store for one subtest and arranges its
// cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutOpen", testPutOpen},
		{"Overwrite", testOverwrite},
		{"EmptyObject", testEmptyObject},
		{"ServeRange", testServeRange},
		{"NestedAndUnicodeKeys", testNestedAndUnicodeKeys},
		{"StatAndOpenErrors", testStatAndOpenErrors},
		{"List", testList},
		{"Walk", testWalk},
		{"WalkStopsOnError", testWalkStopsOnError},
		{"DeleteWhileWalking", testDeleteWhileWalking},
		{"Delete", testDelete},
		{"DeletePrefix", testDeletePrefix},
		{"PutConflicts", testPutConflicts},
		{"PutReaderError", testPutReaderError},
		{"CanceledContext", testCanceledContext},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentPutDelete", testConcurrentPutDelete},
		{"MultipartInOrder", testMultipartInOrder},
		{"MultipartOutOfOrder", testMultipartOutOfOrder},
		{"MultipartReplacePart", testMultipartReplacePart},
		{"MultipartInvisibleUntilComplete", testMultipartInvisible},
		{"MultipartBadParts", testMultipartBadParts},
		{"MultipartAbort", testMultipartAbort},
		{"MultipartUnknownUpload", testMultipartUnknownUpload},
		{"MultipartInvalidKeys", testMultipartInvalidKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func testPutOpen(t *testing.T, s blob.Store) {
	n, err := s.Put(t.Context(), "dir/a.txt", strings.NewReader("hello, world"))
	if err != nil || n != 12 {
		t.Fatalf("Put = %d, %v; want 12, nil", n, err)
	}
	obj, err := s.Open(t.Context(), "dir/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if info := obj.Info(); info.Key != "dir/a.txt" || info.Size != 12 || info.IsDir {
		t.Errorf("Info = %+v", info)
	}
	if _, err := obj.Seek(7, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(obj); string(got) != "world" {
		t.Errorf("read after Seek(7) = %q, want %q", got, "world")
	}
	info, err := s.Stat(t.Context(), "dir/a.txt")
	if err != nil || info.Key != "dir/a.txt" || info.Size != 12 || info.ModTime.IsZero() {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "k", "a longer first version")
	put(t, s, "k", "second")
	if got := get(t, s, "k"); got != "second" {
		t.Errorf("got %q after overwrite", got)
	}
	if info, _ := s.Stat(t.Context(), "k"); info.Size != 6 {
		t.Errorf("Stat size = %d, want 6", info.Size)
	}
}

func testEmptyObject(t *testing.T, s blob.Store) {
	if n, err := s.Put(t.Context(), "empty", strings.NewReader("")); err != nil || n != 0 {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if got := get(t, s, "empty"); got != "" {
		t.Errorf("got %q", got)
	}
	infos := list(t, s, "")
	if len(infos) != 1 || infos[0].Key != "empty" || infos[0].Size != 0 || infos[0].IsDir {
		t.Errorf("List = %+v", infos)
	}
}

// testServeRange checks that an Object is all http.ServeContent needs for range requests.
func testServeRange(t *testing.T, s blob.Store) {
	put(t, s, "r.bin", "0123456789")
	obj, err := s.Open(t.Context(), "r.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	req := httptest.NewRequest(http.MethodGet, "/r.bin", nil)
	req.Header.Set("Range", "bytes=2-5")
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "r.bin", obj.Info().ModTime, obj)
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "2345" {
		t.Errorf("ServeContent = %d %q, want 206 %q", rec.Code, rec.Body.String(), "2345")
	}
}

func testNestedAndUnicodeKeys(t *testing.T, s blob.Store) {
	keys := []string{"ünï/cødé 文件.txt", "a/b/c/d/e/f.txt", "emoji/🙂.bin", "a%20b", "sp ace/x;y=z,w@v+u"}
	for _, k := range keys {
		put(t, s, k, "body of "+k)
	}
	for _, k := range keys {
		if got := get(t, s, k); got != "body of "+k {
			t.Errorf("Open(%q) = %q", k, got)
		}
	}
	slices.Sort(keys)
	if got := walk(t, s, ""); !slices.Equal(got, keys) {
		t.Errorf("Walk = %q, want %q", got, keys)
	}
}

func testStatAndOpenErrors(t *testing.T, s blob.Store) {
	put(t, s, "d/x", "x")
	for _, key := range []string{"missing", "d/missing", "d/x/below-an-object"} {
		_, err := s.Stat(t.Context(), key)
		wantErr(t, "Stat("+key+")", err, blob.ErrNotFound, fault.NotFound)
		_, err = s.Open(t.Context(), key)
		wantErr(t, "Open("+key+")", err, blob.ErrNotFound, fault.NotFound)
	}
	_, err := s.Stat(t.Context(), "d")
	wantErr(t, "Stat(dir)", err, blob.ErrIsDir, fault.Invalid)
	_, err = s.Open(t.Context(), "d")
	wantErr(t, "Open(dir)", err, blob.ErrIsDir, fault.Invalid)
}

var treeKeys = []string{"a.txt", "b/c.txt", "b/d/e.txt", "b-x.txt", "z/y/x/w.txt"}

func testList(t *testing.T, s blob.Store) {
	for _, k := range treeKeys {
		put(t, s, k, k)
	}
	tests := []struct {
		dir  string
		want []string // directories end in "/" here, to tell them apart
	}{
		{"", []string{"a.txt", "b/", "b-x.txt", "z/"}},
		{"b", []string{"b/c.txt", "b/d/"}},
		{"b/", []string{"b/c.txt", "b/d/"}},
		{"z/y", []string{"z/y/x/"}},
		{"missing", nil},
		{"a.txt", nil},
	}
	for _, tt := range tests {
		if got := describe(list(t, s, tt.dir)); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
	for _, info := range list(t, s, "b") {
		if !info.IsDir && info.Size != int64(len(info.Key)) {
			t.Errorf("List size of %q = %d", info.Key, info.Size)
		}
	}
}

func testWalk(t *testing.T, s blob.Store) {
	for _, k := range treeKeys {
		put(t, s, k, k)
	}
	all := slices.Sorted(slices.Values(treeKeys)) // byte order: "b-x.txt" before "b/c.txt"
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"b", []string{"b/c.txt", "b/d/e.txt"}},
		{"b/", []string{"b/c.txt", "b/d/e.txt"}},
		{"z/y/x", []string{"z/y/x/w.txt"}},
		{"missing", nil},
		{"a.txt", nil},
	}
	for _, tt := range tests {
		if got := walk(t, s, tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("Walk(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func testWalkStopsOnError(t *testing.T, s blob.Store) {
	for _, k := range treeKeys {
		put(t, s, k, k)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(t.Context(), "", func(blob.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testDeleteWhileWalking(t *testing.T, s blob.Store) {
	for _, k := range treeKeys {
		put(t, s, k, k)
	}
	var visited []string
	err := s.Walk(t.Context(), "", func(info blob.Info) error {
		visited = append(visited, info.Key)
		return s.Delete(t.Context(), info.Key)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(treeKeys)); !slices.Equal(visited, want) {
		t.Errorf("Walk while deleting visited %q, want %q", visited, want)
	}
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List after deleting everything = %+v", got)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	put(t, s, "keep", "k")
	put(t, s, "d/e/x", "x")
	put(t, s, "d/y", "y")
	mustDelete(t, s, "d/e/x")
	_, err := s.Stat(t.Context(), "d/e/x")
	wantErr(t, "Stat after Delete", err, blob.ErrNotFound, fault.NotFound)
	mustDelete(t, s, "d/e/x") // missing: no error
	mustDelete(t, s, "never")
	mustDelete(t, s, "d") // a directory, not an object: nothing to delete
	if got := get(t, s, "d/y"); got != "y" {
		t.Errorf("Delete(dir) touched d/y: %q", got)
	}
	mustDelete(t, s, "d/y")
	if got := describe(list(t, s, "")); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("List after deleting every object under d = %q: the directory should go too", got)
	}
}

func testDeletePrefix(t *testing.T, s blob.Store) {
	for _, k := range treeKeys {
		put(t, s, k, k)
	}
	if err := s.DeletePrefix(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	if got, want := walk(t, s, ""), []string{"a.txt", "b-x.txt", "z/y/x/w.txt"}; !slices.Equal(got, want) {
		t.Errorf("Walk after DeletePrefix(b) = %q, want %q", got, want)
	}
	for _, p := range []string{"missing", "a.txt", "z/y/"} {
		if err := s.DeletePrefix(t.Context(), p); err != nil {
			t.Errorf("DeletePrefix(%q) = %v", p, err)
		}
	}
	if got, want := describe(list(t, s, "")), []string{"a.txt", "b-x.txt"}; !slices.Equal(got, want) {
		t.Errorf("List after DeletePrefix(z/y) = %q, want %q", got, want)
	}
	err := s.DeletePrefix(t.Context(), "")
	wantErr(t, `DeletePrefix("")`, err, blob.ErrInvalidPath, fault.Invalid)
}

func testPutConflicts(t *testing.T, s blob.Store) {
	put(t, s, "f", "an object")
	put(t, s, "d/x", "x")
	_, err := s.Put(t.Context(), "f/g", strings.NewReader("under an object"))
	wantErr(t, "Put below an object", err, blob.ErrPathConflict, fault.Conflict)
	_, err = s.Put(t.Context(), "d", strings.NewReader("over a directory"))
	wantErr(t, "Put over a directory", err, blob.ErrPathConflict, fault.Conflict)
	if get(t, s, "f") != "an object" || get(t, s, "d/x") != "x" {
		t.Error("a refused Put changed the store")
	}
}

func testPutReaderError(t *testing.T, s blob.Store) {
	put(t, s, "k", "old")
	boom := errors.New("client went away")
	r := io.MultiReader(strings.NewReader("partial new bytes"), errReader{boom})
	if _, err := s.Put(t.Context(), "k", r); !errors.Is(err, boom) {
		t.Errorf("Put = %v, want %v", err, boom)
	}
	if got := get(t, s, "k"); got != "old" {
		t.Errorf("a failed Put left %q, want the old object", got)
	}
	if got := walk(t, s, ""); !slices.Equal(got, []string{"k"}) {
		t.Errorf("a failed Put left objects %q", got)
	}
}

func testCanceledContext(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "k", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v", err)
	}
	if got := walk(t, s, ""); len(got) != 0 {
		t.Errorf("a canceled Put stored %q", got)
	}
	put(t, s, "d/k", "x")
	err := s.Walk(ctx, "", func(blob.Info) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with a canceled context = %v", err)
	}
}

// badKeys are refused by CheckKey, so every Store method must refuse them before any I/O.
var badKeys = []string{
	"", "/abs", "../x", "a/../../etc/passwd", "a/./b", "a//b", "a/", `a\b`, `..\..\x`,
	"a\x00b", "\u0017", "C:/x", `C:\x`, ".mlship-uploads/x", ".MLSHIP-tmp-1", strings.Repeat("k", 2000),
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range badKeys {
		_, err := s.Put(ctx, key, failReader{t})
		wantErr(t, "Put", err, blob.ErrInvalidPath, fault.Invalid)
		_, err = s.Open(ctx, key)
		wantErr(t, "Open", err, blob.ErrInvalidPath, fault.Invalid)
		_, err = s.Stat(ctx, key)
		wantErr(t, "Stat", err, blob.ErrInvalidPath, fault.Invalid)
		wantErr(t, "Delete", s.Delete(ctx, key), blob.ErrInvalidPath, fault.Invalid)
		if key == "" || key == "a/" {
			continue // "" is the root and one trailing slash is allowed for directories
		}
		_, err = s.List(ctx, key)
		wantErr(t, "List", err, blob.ErrInvalidPath, fault.Invalid)
		wantErr(t, "Walk", s.Walk(ctx, key, func(blob.Info) error { return nil }), blob.ErrInvalidPath, fault.Invalid)
		wantErr(t, "DeletePrefix", s.DeletePrefix(ctx, key), blob.ErrInvalidPath, fault.Invalid)
	}
	if got := walk(t, s, ""); len(got) != 0 {
		t.Errorf("invalid keys stored %q", got)
	}
}
