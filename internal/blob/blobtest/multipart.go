package blobtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

func testMultipartInOrder(t *testing.T, s blob.Store) {
	const key = "big/obj.bin"
	id := create(t, s, key)
	var parts []blob.Part
	for i, body := range []string{"first-", "second-", "third"} {
		parts = append(parts, uploadPart(t, s, key, id, i+1, body))
	}
	n, err := s.CompleteMultipart(t.Context(), key, id, parts)
	if err != nil || n != 18 {
		t.Fatalf("CompleteMultipart = %d, %v; want 18, nil", n, err)
	}
	if got := get(t, s, key); got != "first-second-third" {
		t.Errorf("got %q", got)
	}
	_, err = s.UploadPart(t.Context(), key, id, 4, strings.NewReader("late"))
	wantErr(t, "UploadPart after Complete", err, blob.ErrUploadNotFound, fault.NotFound)
}

func testMultipartOutOfOrder(t *testing.T, s blob.Store) {
	const key = "obj"
	id := create(t, s, key)
	p7 := uploadPart(t, s, key, id, 7, "seven")
	p1 := uploadPart(t, s, key, id, 1, "one-")
	p3 := uploadPart(t, s, key, id, 3, "three-")
	if _, err := s.CompleteMultipart(t.Context(), key, id, []blob.Part{p3, p7, p1}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, key); got != "one-three-seven" {
		t.Errorf("got %q, want the parts in number order", got)
	}
}

func testMultipartReplacePart(t *testing.T, s blob.Store) {
	const key = "obj"
	id := create(t, s, key)
	old := uploadPart(t, s, key, id, 1, "old")
	replaced := uploadPart(t, s, key, id, 1, "new")
	if old.ETag == replaced.ETag {
		t.Fatalf("different bodies got the same ETag %q", old.ETag)
	}
	_, err := s.CompleteMultipart(t.Context(), key, id, []blob.Part{old})
	wantErr(t, "Complete with a replaced part's ETag", err, blob.ErrInvalidPart, fault.Invalid)
	if _, err := s.CompleteMultipart(t.Context(), key, id, []blob.Part{replaced}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, key); got != "new" {
		t.Errorf("got %q", got)
	}
}

func testMultipartInvisible(t *testing.T, s blob.Store) {
	const key = "obj"
	id := create(t, s, key)
	uploadPart(t, s, key, id, 1, "pending")
	_, err := s.Stat(t.Context(), key)
	wantErr(t, "Stat before Complete", err, blob.ErrNotFound, fault.NotFound)
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List shows %+v during an upload", got)
	}
	if got := walk(t, s, ""); len(got) != 0 {
		t.Errorf("Walk shows %q during an upload", got)
	}
}

func testMultipartBadParts(t *testing.T, s blob.Store) {
	const key = "obj"
	ctx := t.Context()
	id := create(t, s, key)
	p1 := uploadPart(t, s, key, id, 1, "one")
	p2 := uploadPart(t, s, key, id, 2, "two")
	bad := map[string][]blob.Part{
		"wrong ETag":   {p1, {Number: 2, ETag: p1.ETag}},
		"missing part": {p1, p2, {Number: 3, ETag: p2.ETag}},
		"no parts":     nil,
		"twice":        {p1, p1},
		"number 0":     {{Number: 0, ETag: p1.ETag}},
	}
	for name, parts := range bad {
		_, err := s.CompleteMultipart(ctx, key, id, parts)
		wantErr(t, "Complete with "+name, err, blob.ErrInvalidPart, fault.Invalid)
	}
	for _, n := range []int{0, -1, blob.MaxPartNumber + 1} {
		_, err := s.UploadPart(ctx, key, id, n, strings.NewReader("x"))
		wantErr(t, "UploadPart out of range", err, blob.ErrInvalidPart, fault.Invalid)
	}
	_, err := s.Stat(ctx, key)
	wantErr(t, "Stat after failed Completes", err, blob.ErrNotFound, fault.NotFound)
	if _, err := s.CompleteMultipart(ctx, key, id, []blob.Part{p1, p2}); err != nil {
		t.Fatalf("the upload should survive failed Completes: %v", err)
	}
	if got := get(t, s, key); got != "onetwo" {
		t.Errorf("got %q", got)
	}
}

func testMultipartAbort(t *testing.T, s blob.Store) {
	const key = "obj"
	ctx := t.Context()
	id := create(t, s, key)
	p1 := uploadPart(t, s, key, id, 1, "one")
	if err := s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatal(err)
	}
	_, err := s.UploadPart(ctx, key, id, 2, strings.NewReader("two"))
	wantErr(t, "UploadPart after Abort", err, blob.ErrUploadNotFound, fault.NotFound)
	_, err = s.CompleteMultipart(ctx, key, id, []blob.Part{p1})
	wantErr(t, "Complete after Abort", err, blob.ErrUploadNotFound, fault.NotFound)
	wantErr(t, "Abort twice", s.AbortMultipart(ctx, key, id), blob.ErrUploadNotFound, fault.NotFound)
	if got := walk(t, s, ""); len(got) != 0 {
		t.Errorf("Abort left %q", got)
	}
}

func testMultipartUnknownUpload(t *testing.T, s blob.Store) {
	ctx := t.Context()
	other := create(t, s, "other")
	for _, id := range []string{"", "0123456789abcdef0123456789abcdef", "../../etc", "../" + other, other + "/.."} {
		_, err := s.UploadPart(ctx, "obj", id, 1, failReader{t})
		wantErr(t, "UploadPart to upload "+id, err, blob.ErrUploadNotFound, fault.NotFound)
	}
	_, err := s.UploadPart(ctx, "obj", other, 1, failReader{t})
	wantErr(t, "UploadPart to another key's upload", err, blob.ErrUploadNotFound, fault.NotFound)
	wantErr(t, "Abort another key's upload", s.AbortMultipart(ctx, "obj", other), blob.ErrUploadNotFound, fault.NotFound)
	uploadPart(t, s, "other", other, 1, "still there")
}

func testMultipartInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	id := create(t, s, "ok")
	for _, key := range badKeys {
		_, err := s.CreateMultipart(ctx, key)
		wantErr(t, "CreateMultipart", err, blob.ErrInvalidPath, fault.Invalid)
		_, err = s.UploadPart(ctx, key, id, 1, failReader{t})
		wantErr(t, "UploadPart", err, blob.ErrInvalidPath, fault.Invalid)
		_, err = s.CompleteMultipart(ctx, key, id, []blob.Part{{Number: 1, ETag: "x"}})
		wantErr(t, "CompleteMultipart", err, blob.ErrInvalidPath, fault.Invalid)
		wantErr(t, "AbortMultipart", s.AbortMultipart(ctx, key, id), blob.ErrInvalidPath, fault.Invalid)
	}
	if got := walk(t, s, ""); !slices.Equal(got, nil) {
		t.Errorf("invalid keys stored %q", got)
	}
}
