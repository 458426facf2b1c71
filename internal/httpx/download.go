package httpx

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// Attachment is a Content-Disposition that names the download. The name is encoded as
// RFC 5987 says: a URL path keeps characters such as "=", ":" and "@" that would end the
// header parameter early.
func Attachment(name string) string {
	const hex = "0123456789ABCDEF"
	b := []byte("attachment; filename*=UTF-8''")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// SetDownload sets the headers of a file sent to a client as a download: never shown
// inline or run on the server's origin (an HTML or SVG artifact is a file, not a page).
// An empty contentType is guessed from the name's extension.
func SetDownload(h http.Header, name, contentType string) {
	if contentType == "" {
		contentType = mime.TypeByExtension(path.Ext(name))
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", Attachment(path.Base(name)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
}
