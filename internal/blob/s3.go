package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The S3 driver: s3://bucket/prefix, on AWS S3 or any S3-compatible server (MinIO, Ceph,
// SeaweedFS, versitygw, R2...). docs/storage.md lists its settings.
func init() { Register("s3", openS3URI) }

// S3 part sizes. Put streams what it is given in parts of S3PartSize, so a Put holds at
// most one part in memory whatever the object's size.
const (
	S3PartSize     = 16 << 20
	s3MinPartSize  = 5 << 20       // S3's smallest part but the last
	s3MaxCopySize  = 5 << 30       // largest object CopyObject copies in one request
	s3CopyPartSize = 512 << 20     // parts of a larger server-side copy
	s3MaxDeletes   = 1000          // keys per DeleteObjects
	s3Spool        = S3PartSize    // part bytes kept in memory before spooling to a file
	s3SpoolPattern = "mlship-s3-*" // temp files of parts larger than s3Spool
)

// S3Options are the connection settings of the S3 driver beyond the URI's bucket and prefix.
// Credentials are never options: they come from the SDK's standard chain (AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared config files, web identity, ECS and
// EC2 instance roles).
type S3Options struct {
	// Endpoint is the URL of an S3-compatible server, e.g. http://minio:9000. Empty means
	// AWS (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, which the SDK reads).
	Endpoint string
	// Region signs the requests; empty means the SDK's (AWS_REGION, the shared config),
	// else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key) rather than the
	// host name; nil means path-style with a custom Endpoint and virtual-hosted on AWS.
	PathStyle *bool
	// PresignedURLs hands clients presigned URLs of multipart upload parts (PresignPart)
	// and of objects (PresignGet), so that they upload to the bucket and download from it
	// directly. The endpoint must be reachable by them.
	PresignedURLs bool
}

// S3OptionsFromURI reads the driver's query parameters, endpoint, region and path_style
// (s3://bucket/prefix?endpoint=http://minio:9000&region=eu-west-1&path_style=true), and
// presigned_urls, falling
// back to MLFLOW_S3_ENDPOINT_URL for the endpoint, as MLflow does.
func S3OptionsFromURI(u *url.URL) (S3Options, error) {
	q := u.Query()
	opts := S3Options{Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if opts.Endpoint == "" {
		opts.Endpoint = os.Getenv("MLFLOW_S3_ENDPOINT_URL")
	}
	if v := q.Get("path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, errorf(ErrInvalidURI, "Invalid path_style %q in the storage URI: true or false", v)
		}
		opts.PathStyle = &b
	}
	if v := q.Get("presigned_urls"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, errorf(ErrInvalidURI, "Invalid presigned_urls %q in the storage URI: true or false", v)
		}
		opts.PresignedURLs = b
	}
	if opts.Endpoint != "" {
		e, err := url.Parse(opts.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return opts, errorf(ErrInvalidURI, "Invalid S3 endpoint %q: an http:// or https:// URL", opts.Endpoint)
		}
	}
	for k := range q {
		if k != "endpoint" && k != "region" && k != "path_style" && k != "presigned_urls" {
			return opts, errorf(ErrInvalidURI, "Unknown parameter %q in the storage URI (known: endpoint, region, path_style, presigned_urls)", k)
		}
	}
	return opts, nil
}

func openS3URI(ctx context.Context, u *url.URL) (Store, error) {
	opts, err := S3OptionsFromURI(u)
	if err != nil {
		return nil, err
	}
	return OpenS3(ctx, u.Host, u.Path, opts)
}

// S3 is a Store in an S3 bucket, under a prefix. Objects are S3 objects, multipart uploads
// are S3 multipart uploads, and "directories" are common prefixes. It is safe for
// concurrent use.
type S3 struct {
	client  *s3.Client
	presign bool // hand out presigned part URLs
	bucket  string
	prefix  string // "" or ending in "/"
	where   string // endpoint and bucket: stores with the same where can copy server-side
}

// OpenS3 opens the bucket's prefix ("" or "/" is the whole bucket). It checks that the prefix
// can be listed with the credentials the chain finds, so that a misconfigured server fails
// at start rather than at the first upload.
func OpenS3(ctx context.Context, bucket, prefix string, opts S3Options) (*S3, error) {
	if bucket == "" {
		return nil, errorf(ErrInvalidURI, "The S3 storage URI names no bucket: s3://BUCKET/PREFIX")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		// The prefix may name the store's own directories (.mlship-content): only keys may not.
		if reason := keyProblem(prefix); reason != "" && reason != "reserved name" {
			return nil, errorf(ErrInvalidURI, "Invalid prefix %q in the S3 storage URI: %s", prefix, reason)
		}
		prefix += "/"
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		// Only what S3 itself requires: many S3-compatible servers reject the SDK's default
		// CRC32 trailers (aws-chunked uploads).
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := opts.Endpoint != ""
	if opts.PathStyle != nil {
		pathStyle = *opts.PathStyle
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	s := &S3{client: client, presign: opts.PresignedURLs, bucket: bucket, prefix: prefix, where: opts.Endpoint + "\x00" + cfg.Region + "\x00" + bucket}
	// A listing of the prefix, not HeadBucket: a policy may allow s3:ListBucket only under it.
	_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("S3 bucket %s: %w", bucket, s.mapErr(ctx, err, ""))
	}
	return s, nil
}

func (s *S3) objectKey(key string) string { return s.prefix + key }

// Put implements Store. What fits in one part is one PutObject; anything larger streams
// through a multipart upload, one part in memory at a time, which is aborted on any error,
// so the old object stays until the new one is whole.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := begin(ctx, key); err != nil {
		return 0, err
	}
	if err := s.checkConflicts(ctx, key); err != nil {
		return 0, err
	}
	buf := getPartBuffer()
	defer putPartBuffer(buf)
	n, err := io.ReadFull(ctxReader{ctx, r}, *buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
			Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return 0, s.mapErr(ctx, err, key)
		}
		return int64(n), nil
	case err != nil:
		return 0, err
	}
	return s.putMultipart(ctx, key, r, buf)
}

func (s *S3) putMultipart(ctx context.Context, key string, r io.Reader, buf *[]byte) (size int64, err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)),
	})
	if err != nil {
		return 0, s.mapErr(ctx, err, key)
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
	n := len(*buf) // the first part was read by Put
	for number := int32(1); ; number++ {
		if number > MaxPartNumber {
			return 0, errorf(ErrInvalidPart, "%s is larger than %d parts of %d bytes", key, MaxPartNumber, S3PartSize)
		}
		up, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: id,
			PartNumber: aws.Int32(number), Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return 0, s.mapErr(ctx, err, key)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(number), ETag: up.ETag})
		size += int64(n)
		n, err = io.ReadFull(ctxReader{ctx, r}, *buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, err
		}
	}
	if err := s.checkConflicts(ctx, key); err != nil {
		return 0, err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key)), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return 0, s.mapErr(ctx, err, key)
	}
	return size, nil
}

var partBuffers = sync.Pool{New: func() any { b := make([]byte, S3PartSize); return &b }}

func getPartBuffer() *[]byte  { return partBuffers.Get().(*[]byte) }
func putPartBuffer(b *[]byte) { partBuffers.Put(b) }

// checkConflicts refuses a key below an object ("f/g" when "f" is one) or over a directory,
// as a filesystem would: S3 would store both, and List could no longer tell them apart. The
// ancestors are checked concurrently. Like any check before a write, it races with writers
// of the other key; it keeps the namespace a tree for one writer at a time.
func (s *S3) checkConflicts(ctx context.Context, key string) error {
	var ancestors []string
	for i := range len(key) {
		if key[i] == '/' {
			ancestors = append(ancestors, key[:i])
		}
	}
	errs := make([]error, len(ancestors)+1)
	var wg sync.WaitGroup
	for i, a := range ancestors {
		wg.Go(func() {
			_, err := s.head(ctx, a)
			switch {
			case err == nil:
				errs[i] = errorf(ErrPathConflict, "Cannot store %s: %s is an object, not a directory", key, a)
			case !errors.Is(err, ErrNotFound):
				errs[i] = err
			}
		})
	}
	wg.Go(func() {
		isDir, err := s.isDir(ctx, key)
		switch {
		case err != nil:
			errs[len(ancestors)] = err
		case isDir:
			errs[len(ancestors)] = errorf(ErrPathConflict, "Cannot store %s: it is a directory", key)
		}
	})
	wg.Wait()
	return errors.Join(errs...)
}

// head describes the object at key, ErrNotFound if there is none.
func (s *S3) head(ctx context.Context, key string) (Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return Info{}, s.mapErr(ctx, err, key)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// isDir reports whether any object has a key under key + "/".
func (s *S3) isDir(ctx context.Context, key string) (bool, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.objectKey(key) + "/"), MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return false, s.mapErr(ctx, err, key)
	}
	return len(out.Contents) > 0, nil
}

// missing returns the error for a key with no object: ErrIsDir if it is a directory.
func (s *S3) missing(ctx context.Context, key string, err error) error {
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	isDir, derr := s.isDir(ctx, key)
	switch {
	case derr != nil:
		return derr
	case isDir:
		return errorf(ErrIsDir, "%s is a directory", key)
	}
	return err
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := begin(ctx, key); err != nil {
		return Info{}, err
	}
	info, err := s.head(ctx, key)
	if err != nil {
		return Info{}, s.missing(ctx, key, err)
	}
	return info, nil
}

// List implements Store: one level, objects and common prefixes, sorted by Key.
func (s *S3) List(ctx context.Context, dir string) ([]Info, error) {
	dir, err := checkDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	prefix := s.prefix
	if dir != "" {
		prefix = s.objectKey(dir) + "/"
	}
	var infos []Info
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.mapErr(ctx, err, dir)
		}
		for _, o := range page.Contents {
			if key, ok := s.storeKey(aws.ToString(o.Key)); ok {
				infos = append(infos, Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
			}
		}
		for _, cp := range page.CommonPrefixes {
			if key, ok := s.storeKey(strings.TrimSuffix(aws.ToString(cp.Prefix), "/")); ok {
				infos = append(infos, Info{Key: key, IsDir: true})
			}
		}
	}
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return infos, nil
}

// storeKey turns a bucket key into the store's, leaving out what the store would not write:
// "directory marker" objects ending in "/", the store's own names, and keys CheckKey refuses.
func (s *S3) storeKey(objectKey string) (string, bool) {
	key, ok := strings.CutPrefix(objectKey, s.prefix)
	if !ok || keyProblem(key) != "" {
		return "", false
	}
	return key, true
}

// Walk implements Store. S3 lists keys in UTF-8 byte order, which is Walk's key order.
func (s *S3) Walk(ctx context.Context, prefix string, fn func(Info) error) error {
	prefix, err := checkDir(ctx, prefix)
	if err != nil {
		return err
	}
	objPrefix := s.prefix
	if prefix != "" {
		objPrefix = s.objectKey(prefix) + "/"
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(objPrefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.mapErr(ctx, err, prefix)
		}
		for _, o := range page.Contents {
			key, ok := s.storeKey(aws.ToString(o.Key))
			if !ok {
				continue
			}
			if err := fn(Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements Store. S3 deletes of a missing key succeed, as Delete's must.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	return s.mapErr(ctx, err, key)
}

// DeletePrefix implements Store, with DeleteObjects of up to 1000 keys a request.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errorf(ErrInvalidPath, "Refusing to delete the whole store")
	}
	prefix, err := checkDir(ctx, prefix)
	if err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.objectKey(prefix) + "/"), MaxKeys: aws.Int32(s3MaxDeletes),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.mapErr(ctx, err, prefix)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return s.mapErr(ctx, err, prefix)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("blob: delete %s: %s: %s (%d keys not deleted)",
				aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors))
		}
	}
	return nil
}

// Close implements Store.
func (s *S3) Close() error { return nil }

// mapErr maps an S3 error to the package's: a missing key to ErrNotFound, a missing upload
// to ErrUploadNotFound, a refused part to ErrInvalidPart; a canceled context stays itself.
func (s *S3) mapErr(ctx context.Context, err error, key string) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch code {
	case "NoSuchKey", "NotFound":
		return errorf(ErrNotFound, "%s not found", key)
	case "NoSuchUpload":
		return errorf(ErrUploadNotFound, "No multipart upload of %s with that id", key)
	case "InvalidPart", "InvalidPartOrder":
		return errorf(ErrInvalidPart, "A part of %s is missing or its ETag does not match", key)
	case "EntityTooSmall":
		return errorf(ErrInvalidPart, "A part of %s but the last is smaller than S3's minimum of 5 MiB", key)
	case "PreconditionFailed":
		return fmt.Errorf("blob: %s changed while it was read: %w", key, err)
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusNotFound && code != "NoSuchBucket" {
		return errorf(ErrNotFound, "%s not found", key)
	}
	return fmt.Errorf("s3://%s/%s: %w", s.bucket, s.objectKey(key), err)
}

// s3Object reads an object from one GetObject, and after a Seek from a ranged GetObject
// that must match the first one's ETag: a read never mixes two versions of an object.
// Seeks are lazy: http.ServeContent seeks to the end and back before reading from 0, which
// keeps the first response's stream.
type s3Object struct {
	ctx     context.Context
	s       *S3
	info    Info
	etag    string
	pos     int64         // where the next Read reads
	body    io.ReadCloser // the open response, at bodyPos; nil when none is open
	bodyPos int64
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := begin(ctx, key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.objectKey(key))})
	if err != nil {
		return nil, s.missing(ctx, key, s.mapErr(ctx, err, key))
	}
	return &s3Object{ctx: ctx, s: s, etag: aws.ToString(out.ETag), body: out.Body,
		info: Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}}, nil
}

func (o *s3Object) Info() Info { return o.info }

func (o *s3Object) Read(p []byte) (int, error) {
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if o.body != nil && o.bodyPos != o.pos {
		o.body.Close()
		o.body = nil
	}
	if o.body == nil {
		out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
			Bucket: aws.String(o.s.bucket), Key: aws.String(o.s.objectKey(o.info.Key)),
			Range: aws.String(fmt.Sprintf("bytes=%d-", o.pos)), IfMatch: aws.String(o.etag),
		})
		if err != nil {
			return 0, o.s.mapErr(o.ctx, err, o.info.Key)
		}
		o.body, o.bodyPos = out.Body, o.pos
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	o.bodyPos = o.pos
	if errors.Is(err, io.EOF) && o.pos < o.info.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = o.pos + offset
	case io.SeekEnd:
		pos = o.info.Size + offset
	default:
		return 0, errors.New("blob: invalid whence")
	}
	if pos < 0 {
		return 0, errors.New("blob: negative position")
	}
	o.pos = pos
	return pos, nil
}

func (o *s3Object) Close() error {
	if o.body == nil {
		return nil
	}
	err := o.body.Close()
	o.body = nil
	return err
}
