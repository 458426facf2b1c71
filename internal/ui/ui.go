// Package ui serves the web UI: the single-page app built from ui/ into dist and
// embedded in the binary. It knows no domain: the app reads everything through the
// server's APIs, under the same permission checks as every client. A binary built
// without the bundle still starts, and its / says how to build it.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/mlship/mlship/internal/httpx"
)

//go:embed all:dist
var bundle embed.FS

// Bundle returns the embedded build output (dist).
func Bundle() fs.FS {
	sub, err := fs.Sub(bundle, "dist")
	if err != nil {
		panic(err) // dist is embedded; Sub fails only on an invalid name
	}
	return sub
}

// NotBuilt is what / answers when the binary holds no bundle.
const NotBuilt = "the web UI is not built: run make ui (then rebuild the server)\n"

// ContentSecurityPolicy returns the policy of the UI's answers: the app loads only its own
// scripts, styles and data, runs no inline script but those of index (each allowed by its
// hash: the build inlines the one that starts the first page's calls), fetches nothing
// from another origin, and no other site may frame it.
func ContentSecurityPolicy(index []byte) string {
	script := "script-src 'self'"
	for _, m := range inlineScript.FindAllSubmatch(index, -1) {
		sum := sha256.Sum256(m[1])
		script += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'self'; " + script + "; style-src 'self'; " +
		"img-src 'self' data: blob:; connect-src 'self'; frame-src 'self'; object-src 'none'; " +
		"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

// inlineScript is a script element without attributes (so without src) and its text.
var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// Options configure a Handler.
type Options struct {
	// FS is the built bundle; nil is the embedded one.
	FS fs.FS
	// SingleSignOn tells the app the server signs browsers in through an OpenID
	// provider (/auth/login), so its sign-in form offers it.
	SingleSignOn bool
}

// Handler serves the app: / is index.html (revalidated each time), /assets/* are the
// hashed files (cached for a year), each compressed once.
type Handler struct {
	index  *file // nil when the bundle is not built
	assets map[string]*file
	csp    string
}

// file is one servable file with its encodings, prepared once.
type file struct {
	ctype string
	etag  string
	plain []byte
	gzip  []byte // nil when not worth compressing
	br    []byte // only when the build wrote one
}

// New reads the bundle into memory.
func New(opts Options) (*Handler, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = Bundle()
	}
	h := &Handler{assets: map[string]*file{}, csp: ContentSecurityPolicy(nil)}
	index, err := fs.ReadFile(fsys, "index.html")
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the UI's index.html: %w", err)
	}
	if opts.SingleSignOn {
		index = bytes.Replace(index, []byte("</head>"), []byte(`<meta name="mlship-sso" content="oidc" /></head>`), 1)
	}
	h.csp = ContentSecurityPolicy(index)
	if h.index, err = newFile("index.html", index, nil); err != nil {
		return nil, err
	}
	err = fs.WalkDir(fsys, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".br") {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		br, err := fs.ReadFile(fsys, name+".br")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		f, err := newFile(name, body, br)
		if gz, gzErr := fs.ReadFile(fsys, name+".gz"); gzErr == nil && f != nil {
			f.gzip = gz
		}
		h.assets[strings.TrimPrefix(name, "assets/")] = f
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the UI's assets: %w", err)
	}
	return h, nil
}

// Built reports whether the handler holds a bundle.
func (h *Handler) Built() bool { return h.index != nil }

func newFile(name string, body, br []byte) (*file, error) {
	sum := sha256.Sum256(body)
	f := &file{ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:12]) + `"`, plain: body}
	if len(br) > 0 {
		f.br = br
	}
	if compressible(f.ctype) && len(body) >= 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		f.gzip = buf.Bytes()
	}
	return f, nil
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// Register adds / and /assets/ to rt: public, as they hold no data.
func (h *Handler) Register(rt *httpx.Router) {
	rt.Handle(httpx.Route{Method: "GET", Path: "/{$}", Access: httpx.Public, Handler: http.HandlerFunc(h.serveIndex)})
	rt.Handle(httpx.Route{Method: "GET", Path: "/assets/", Access: httpx.Public, Handler: http.HandlerFunc(h.serveAsset)})
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h.secure(w.Header())
	if h.index == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, NotBuilt)
		return
	}
	// The page names the current assets: the browser asks again each time.
	w.Header().Set("Cache-Control", "no-cache")
	h.index.serve(w, r)
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	h.secure(w.Header())
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	f, ok := h.assets[name]
	if !ok || !fs.ValidPath(name) {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "no such asset: the page may be older than the server; reload it", http.StatusNotFound)
		return
	}
	// Names carry their content's hash: a name's content never changes.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	f.serve(w, r)
}

// serve writes f in the best encoding the client accepts, or 304 when the client's copy
// is current.
func (f *file) serve(w http.ResponseWriter, r *http.Request) {
	body, enc := f.plain, ""
	switch accept := r.Header.Get("Accept-Encoding"); {
	case f.br != nil && accepts(accept, "br"):
		body, enc = f.br, "br"
	case f.gzip != nil && accepts(accept, "gzip"):
		body, enc = f.gzip, "gzip"
	}
	etag := f.etag
	if enc != "" {
		etag = strings.TrimSuffix(etag, `"`) + "-" + enc + `"`
		w.Header().Set("Content-Encoding", enc)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("ETag", etag)
	if f.gzip != nil || f.br != nil {
		hdr.Set("Vary", "Accept-Encoding")
	}
	if matches(r.Header.Get("If-None-Match"), etag) {
		hdr.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// accepts reports whether an Accept-Encoding header admits enc (q=0 refuses it).
func accepts(header, enc string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// matches reports whether an If-None-Match header names etag (or is *).
func matches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		t := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// secure sets the headers every answer of the UI carries.
func (h *Handler) secure(hdr http.Header) {
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
}
