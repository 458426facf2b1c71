package blob

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Multipart uploads are staged in uploadsDir/<uploadID>/: a file holding the key the upload
// was created for, and one file per part, named by its number. A part's ETag is the hex MD5
// of its bytes, as S3's is for unencrypted parts.
const (
	uploadsDir    = internalPrefix + "uploads"
	uploadKeyFile = "key"
	uploadIDBytes = 16
)

// StaleUploadAge is how long a multipart upload may sit without a new part before opening
// the store discards it, like S3's AbortIncompleteMultipartUpload lifecycle rule.
const StaleUploadAge = 7 * 24 * time.Hour

// CreateMultipart implements Store.
func (l *Local) CreateMultipart(ctx context.Context, key string) (string, error) {
	if err := begin(ctx, key); err != nil {
		return "", err
	}
	id := randomHex(uploadIDBytes)
	_, err := l.writeAtomic(path.Join(uploadsDir, id, uploadKeyFile), func(w io.Writer) (int64, error) {
		return io.Copy(w, strings.NewReader(key))
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// UploadPart implements Store. The part is written as durably as an object.
func (l *Local) UploadPart(ctx context.Context, key, uploadID string, number int, r io.Reader) (string, error) {
	dir, err := l.uploadDir(ctx, key, uploadID)
	if err == nil {
		err = checkPartNumber(number)
	}
	if err != nil {
		return "", err
	}
	sum := md5.New()
	_, err = l.writeAtomic(partName(dir, number), func(w io.Writer) (int64, error) {
		return io.Copy(io.MultiWriter(w, sum), ctxReader{ctx, r})
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// CompleteMultipart implements Store. Each part's MD5 is computed as it is copied, so the
// ETags checked are those of the very bytes that make up the object.
func (l *Local) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (int64, error) {
	dir, err := l.uploadDir(ctx, key, uploadID)
	if err != nil {
		return 0, err
	}
	parts, err = sortParts(parts)
	if err == nil {
		err = l.checkPartsExist(dir, parts)
	}
	if err != nil {
		return 0, err
	}
	n, err := l.writeAtomic(key, func(w io.Writer) (int64, error) {
		return l.concatParts(ctx, w, dir, parts)
	})
	if err != nil {
		return 0, err
	}
	_ = l.removeUpload(dir) // the object is committed; the sweep removes leftovers by age
	return n, nil
}

// AbortMultipart implements Store.
func (l *Local) AbortMultipart(ctx context.Context, key, uploadID string) error {
	dir, err := l.uploadDir(ctx, key, uploadID)
	if err != nil {
		return err
	}
	return l.removeUpload(dir)
}

// uploadDir checks key and uploadID and returns the upload's staging directory, which
// exists and was created for key.
func (l *Local) uploadDir(ctx context.Context, key, uploadID string) (string, error) {
	if err := begin(ctx, key); err != nil {
		return "", err
	}
	if !isUploadID(uploadID) {
		return "", errorf(ErrUploadNotFound, "Multipart upload %q not found", uploadID)
	}
	dir := path.Join(uploadsDir, uploadID)
	owner, err := l.root.ReadFile(path.Join(dir, uploadKeyFile))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && string(owner) != key) {
		return "", errorf(ErrUploadNotFound, "Multipart upload %q of %q not found", uploadID, key)
	}
	if err != nil {
		return "", readErr(key, err)
	}
	return dir, nil
}

// isUploadID tells whether id has the shape CreateMultipart gives, so that it is safe as a
// path segment.
func isUploadID(id string) bool {
	if len(id) != 2*uploadIDBytes {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkPartNumber(n int) error {
	if n < 1 || n > MaxPartNumber {
		return errorf(ErrInvalidPart, "Part number %d is outside 1 to %d", n, MaxPartNumber)
	}
	return nil
}

func partName(dir string, n int) string { return path.Join(dir, strconv.Itoa(n)) }

// sortParts returns parts in number order, refusing an empty list and repeated numbers.
func sortParts(parts []Part) ([]Part, error) {
	if len(parts) == 0 {
		return nil, errorf(ErrInvalidPart, "A multipart upload needs at least one part")
	}
	parts = slices.SortedFunc(slices.Values(parts), func(a, b Part) int { return cmp.Compare(a.Number, b.Number) })
	for i, p := range parts {
		if err := checkPartNumber(p.Number); err != nil {
			return nil, err
		}
		if i > 0 && parts[i-1].Number == p.Number {
			return nil, errorf(ErrInvalidPart, "Part %d is listed twice", p.Number)
		}
	}
	return parts, nil
}

// checkPartsExist fails fast, before gigabytes are copied, when a listed part is missing.
func (l *Local) checkPartsExist(dir string, parts []Part) error {
	for _, p := range parts {
		if _, err := l.root.Stat(partName(dir, p.Number)); err != nil {
			return partErr(p, err)
		}
	}
	return nil
}

func (l *Local) concatParts(ctx context.Context, w io.Writer, dir string, parts []Part) (int64, error) {
	var total int64
	sum := md5.New()
	for _, p := range parts {
		n, err := l.copyPart(ctx, w, sum, dir, p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// copyPart appends part p to w and checks its ETag; sum is scratch space, reset here.
func (l *Local) copyPart(ctx context.Context, w io.Writer, sum hash.Hash, dir string, p Part) (int64, error) {
	f, err := l.root.Open(partName(dir, p.Number))
	if err != nil {
		return 0, partErr(p, err)
	}
	defer f.Close()
	sum.Reset()
	n, err := io.Copy(io.MultiWriter(w, sum), ctxReader{ctx, f})
	if err != nil {
		return n, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); !sameETag(p.ETag, got) {
		return n, errorf(ErrInvalidPart, "Part %d: ETag %q does not match the uploaded part", p.Number, p.ETag)
	}
	return n, nil
}

// sameETag compares ETags as S3 clients send them: quoted or not, in either case.
func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}

func partErr(p Part, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(ErrInvalidPart, "Part %d was not uploaded", p.Number)
	}
	return readErr(strconv.Itoa(p.Number), err)
}

func (l *Local) removeUpload(dir string) error {
	if err := l.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("blob: remove upload %q: %w", dir, err)
	}
	return l.syncDir(uploadsDir)
}

// sweepUploads removes the uploads whose directory has not changed since cutoff.
func (l *Local) sweepUploads(cutoff time.Time) error {
	entries, err := fs.ReadDir(l.root.FS(), uploadsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if fi, ierr := e.Info(); ierr == nil && fi.ModTime().Before(cutoff) {
			err = cmp.Or(err, l.root.RemoveAll(path.Join(uploadsDir, e.Name())))
		}
	}
	return err
}
