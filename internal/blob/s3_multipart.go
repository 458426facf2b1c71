package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Multipart uploads of the S3 driver are S3's own: the upload id is S3's, parts are S3 parts
// and their ETags S3's. S3 refuses, at Complete, parts but the last smaller than 5 MiB.

// CreateMultipart implements Store.
func (s *S3) CreateMultipart(ctx context.Context, key string) (string, error) {
	if err := begin(ctx, key); err != nil {
		return "", err
	}
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
	})
	if err != nil {
		return "", s.mapErr(ctx, err, key)
	}
	return uploadTag(key) + "_" + aws.ToString(out.UploadId), nil
}

// uploadTag binds an upload id to its key: the ids CreateMultipart returns are
// "<tag>_<S3 upload id>", and an id used with another key is refused before S3 is asked
// (not every S3-compatible server checks the key an upload belongs to).
func uploadTag(key string) string {
	sum := sha256.Sum256([]byte("mlship-upload\x00" + key))
	return hex.EncodeToString(sum[:8])
}

// s3UploadID returns S3's id of an upload of key, or ErrUploadNotFound.
func s3UploadID(key, uploadID string) (string, error) {
	tag, id, ok := strings.Cut(uploadID, "_")
	if !ok || id == "" || tag != uploadTag(key) {
		return "", errorf(ErrUploadNotFound, "No multipart upload of %s with that id", key)
	}
	return id, nil
}

// checkUpload fails with ErrUploadNotFound unless uploadID is an upload of key, before
// anything is read from a client.
func (s *S3) checkUpload(ctx context.Context, key, uploadID string) (string, error) {
	if err := begin(ctx, key); err != nil {
		return "", err
	}
	uploadID, err := s3UploadID(key, uploadID)
	if err != nil {
		return "", err
	}
	_, err = s.client.ListParts(ctx, &s3.ListPartsInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: aws.String(uploadID), MaxParts: aws.Int32(1),
	})
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && ctx.Err() == nil {
		// NoSuchUpload is 404; some servers answer an id they cannot parse with 400.
		if code := respErr.HTTPStatusCode(); code == http.StatusNotFound || code == http.StatusBadRequest {
			return "", errorf(ErrUploadNotFound, "No multipart upload of %s with that id", key)
		}
	}
	return uploadID, s.mapErr(ctx, err, key)
}

// UploadPart implements Store. S3 needs each part's length before its bytes: a part of up to
// 16 MiB is read into memory, a larger one spooled to a temp file first.
func (s *S3) UploadPart(ctx context.Context, key, uploadID string, number int, r io.Reader) (string, error) {
	uploadID, err := s.checkUpload(ctx, key, uploadID)
	if err != nil {
		return "", err
	}
	if err := checkPartNumber(number); err != nil {
		return "", err
	}
	body, size, cleanup, err := spoolPart(ctx, r)
	if err != nil {
		return "", err
	}
	defer cleanup()
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(int32(number)), Body: body, ContentLength: aws.Int64(size),
	})
	if err != nil {
		return "", s.mapErr(ctx, err, key)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// PartPresigner is a Store whose multipart upload parts clients can send straight to the
// object store, as MLflow's clients do with the URLs of mpu/create.
type PartPresigner interface {
	// PresignPart returns a URL that accepts a PUT of part number of the upload until ttl
	// has passed, the headers to send with it, and false, with no URL, when the store does
	// not hand such URLs out. The ETag the PUT answers is what CompleteMultipart expects.
	PresignPart(ctx context.Context, key, uploadID string, number int, ttl time.Duration) (string, map[string]string, bool, error)
}

var _ PartPresigner = (*S3)(nil)

// PresignPart implements PartPresigner when the store was opened with PresignedURLs.
// The URL is signed with the server's credentials: it grants that one PUT, and expires
// with ttl or with the credentials, whichever comes first.
func (s *S3) PresignPart(ctx context.Context, key, uploadID string, number int, ttl time.Duration) (string, map[string]string, bool, error) {
	if !s.presign {
		return "", nil, false, nil
	}
	if err := begin(ctx, key); err != nil {
		return "", nil, true, err
	}
	id, err := s3UploadID(key, uploadID)
	if err == nil {
		err = checkPartNumber(number)
	}
	if err != nil {
		return "", nil, true, err
	}
	req, err := s3.NewPresignClient(s.client).PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: aws.String(id),
		PartNumber: aws.Int32(int32(number)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, true, s.mapErr(ctx, err, key)
	}
	return req.URL, signedHeaders(req.SignedHeader), true, nil
}

// spoolPart returns r's bytes as a seekable reader and their length.
func spoolPart(ctx context.Context, r io.Reader) (io.ReadSeeker, int64, func(), error) {
	buf := getPartBuffer()
	n, err := io.ReadFull(ctxReader{ctx, r}, *buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bytes.NewReader((*buf)[:n]), int64(n), func() { putPartBuffer(buf) }, nil
	}
	if err != nil {
		putPartBuffer(buf)
		return nil, 0, nil, err
	}
	f, err := os.CreateTemp("", s3SpoolPattern)
	if err != nil {
		putPartBuffer(buf)
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	_, err = f.Write(*buf)
	putPartBuffer(buf)
	var rest int64
	if err == nil {
		rest, err = io.Copy(f, ctxReader{ctx, r})
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, int64(n) + rest, cleanup, nil
}

// CompleteMultipart implements Store.
func (s *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (int64, error) {
	uploadID, err := s.checkUpload(ctx, key, uploadID)
	if err != nil {
		return 0, err
	}
	parts, err = sortParts(parts)
	if err != nil {
		return 0, err
	}
	if err := s.checkConflicts(ctx, key); err != nil {
		return 0, err
	}
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		// Clients send ETags quoted, as S3 answers them, or not.
		etag := `"` + strings.Trim(p.ETag, `"`) + `"`
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(etag)}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return 0, s.mapErr(ctx, err, key)
	}
	info, err := s.head(ctx, key)
	return info.Size, err
}

// AbortMultipart implements Store.
func (s *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	uploadID, err := s.checkUpload(ctx, key, uploadID)
	if err != nil {
		return err
	}
	_, err = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: aws.String(uploadID),
	})
	return s.mapErr(ctx, err, key)
}

// GetPresigner is a Store that can hand out URLs from which a client reads an object, with
// range requests, without the server: MLflow's clients download large files in parallel
// chunks that way (mlflow-artifacts/presigned).
type GetPresigner interface {
	// PresignsGets reports whether the store hands such URLs out.
	PresignsGets() bool
	// PresignGet returns a URL that answers GETs of the object at key until ttl has passed,
	// the headers to send with them, and the object's size.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, map[string]string, int64, error)
}

var _ GetPresigner = (*S3)(nil)

// PresignsGets implements GetPresigner: stores opened with PresignedURLs presign reads.
func (s *S3) PresignsGets() bool { return s.presign }

// PresignGet implements GetPresigner. The URL is bound to the object's current ETag with a
// signed If-Match header, so that every chunk a client reads is of the same version.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, map[string]string, int64, error) {
	if !s.presign {
		return "", nil, 0, errorf(ErrUnsupportedScheme, "This store does not hand out presigned URLs")
	}
	if err := begin(ctx, key); err != nil {
		return "", nil, 0, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return "", nil, 0, s.missing(ctx, key, s.mapErr(ctx, err, key))
	}
	req, err := s3.NewPresignClient(s.client).PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), IfMatch: out.ETag,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, 0, s.mapErr(ctx, err, key)
	}
	return req.URL, signedHeaders(req.SignedHeader), aws.ToInt64(out.ContentLength), nil
}

// signedHeaders are the headers a client must send with a presigned URL: all it was signed
// with but Host, which its HTTP library sends itself.
func signedHeaders(h http.Header) map[string]string {
	headers := map[string]string{}
	for name, values := range h {
		if !strings.EqualFold(name, "host") && len(values) > 0 {
			headers[name] = values[0]
		}
	}
	return headers
}

// Copier is a Store that can store an object of another store without reading its bytes
// (S3's server-side copy). The content store uses it to register a version from the
// artifacts it has just hashed.
type Copier interface {
	// CopyFrom stores at key the bytes of obj, an Object that src opened, as Put would, and
	// fails if the object changed since it was opened. It returns false, and does nothing,
	// when it cannot copy from src (another kind of store, another server or account).
	CopyFrom(ctx context.Context, src Store, obj Object, key string) (bool, error)
}

var _ Copier = (*S3)(nil)

// CopyFrom implements Copier for objects of a bucket on the same endpoint: CopyObject up to
// 5 GiB, UploadPartCopy in 512 MiB parts beyond, each conditional on the ETag the object
// had when it was opened.
func (s *S3) CopyFrom(ctx context.Context, src Store, obj Object, key string) (bool, error) {
	from, ok := src.(*S3)
	o, isS3 := obj.(*s3Object)
	if !ok || !isS3 || o.s != from || from.where != s.where {
		return false, nil
	}
	if err := begin(ctx, key); err != nil {
		return true, err
	}
	if err := s.checkConflicts(ctx, key); err != nil {
		return true, err
	}
	source := copySource(from.bucket, from.objectKey(o.info.Key))
	// A copy onto itself freshens an object's LastModified; S3 refuses it unless it replaces
	// the metadata.
	onto := from.bucket == s.bucket && from.objectKey(o.info.Key) == s.objectKey(key)
	var err error
	if o.info.Size <= s3MaxCopySize {
		in := &s3.CopyObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
			CopySource: aws.String(source), CopySourceIfMatch: aws.String(o.etag),
		}
		if onto {
			in.MetadataDirective = types.MetadataDirectiveReplace
		}
		_, err = s.client.CopyObject(ctx, in)
		err = s.mapErr(ctx, err, key)
	} else {
		err = s.copyMultipart(ctx, source, o, key)
	}
	if err != nil || onto {
		return true, err
	}
	// Not every S3-compatible server honours x-amz-copy-source-if-match: check the source
	// again, and take back a copy of bytes that may not be those the caller read. (A copy
	// onto itself changes the ETag of an object made of parts, and is not checked: the
	// callers copy onto itself only objects whose key is their content's digest.)
	out, err := from.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(from.bucket), Key: aws.String(from.objectKey(o.info.Key))})
	if err != nil || aws.ToString(out.ETag) != o.etag {
		s.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
		return true, fmt.Errorf("blob: %s changed while it was copied to %s", o.info.Key, key)
	}
	return true, nil
}

func (s *S3) copyMultipart(ctx context.Context, source string, o *s3Object, key string) (err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
	})
	if err != nil {
		return s.mapErr(ctx, err, key)
	}
	id := created.UploadId
	defer func() {
		if err != nil {
			s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: id,
			})
		}
	}()
	var parts []types.CompletedPart
	for number, off := int32(1), int64(0); off < o.info.Size; number, off = number+1, off+s3CopyPartSize {
		end := min(off+s3CopyPartSize, o.info.Size) - 1
		out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: id, PartNumber: aws.Int32(number),
			CopySource: aws.String(source), CopySourceIfMatch: aws.String(o.etag),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			return s.mapErr(ctx, err, key)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(number), ETag: out.CopyPartResult.ETag})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return s.mapErr(ctx, err, key)
}

// copySource is the x-amz-copy-source of a key: bucket/key, each segment percent-encoded.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// PutPresigner is a Store that can hand out URLs to which a client uploads an object
// without the server (MLflow 3's artifacts/presigned-upload-url).
type PutPresigner interface {
	// PresignsPuts reports whether the store hands such URLs out.
	PresignsPuts() bool
	// PresignPut returns a URL that takes one PUT of the object at key until ttl has
	// passed, and the headers to send with it.
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, map[string]string, error)
}

var _ PutPresigner = (*S3)(nil)

// PresignsPuts implements PutPresigner: stores opened with PresignedURLs presign uploads.
func (s *S3) PresignsPuts() bool { return s.presign }

// PresignPut implements PutPresigner.
func (s *S3) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, map[string]string, error) {
	if !s.presign {
		return "", nil, errorf(ErrUnsupportedScheme, "This store does not hand out presigned URLs")
	}
	if err := begin(ctx, key); err != nil {
		return "", nil, err
	}
	req, err := s3.NewPresignClient(s.client).PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, s.mapErr(ctx, err, key)
	}
	return req.URL, signedHeaders(req.SignedHeader), nil
}
