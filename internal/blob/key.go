package blob

import (
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key limits. S3 caps keys at 1024 bytes; most filesystems cap a name at 255.
const (
	MaxKeyLen     = 1024
	maxSegmentLen = 255
)

// internalPrefix starts the names of the Store's own files (temp files, multipart staging).
// List and Walk hide them and CheckKey refuses keys that would reach them.
const internalPrefix = ".mlship-"

// CheckKey is the lexical gate every Store method applies to a key before any I/O. A key is
// non-empty UTF-8 of at most MaxKeyLen bytes, made of slash-separated segments that are not
// empty, "." or ".."; it has no leading slash, backslash, control character or drive letter,
// and no segment starts with the reserved ".mlship-" prefix. The error is fault.Invalid.
func CheckKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return errorf(ErrInvalidPath, "Invalid path %q: %s", key, reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return "too long"
	case !utf8.ValidString(key):
		return "not UTF-8"
	case strings.ContainsFunc(key, unicode.IsControl):
		return "control character"
	case strings.ContainsRune(key, '\\'):
		return "backslash"
	case key[0] == '/':
		return "absolute path"
	case hasDriveLetter(key):
		return "drive letter"
	}
	for seg := range strings.SplitSeq(key, "/") {
		if reason := segmentProblem(seg); reason != "" {
			return reason
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		return "not a local path"
	}
	return ""
}

func segmentProblem(seg string) string {
	switch {
	case seg == "":
		return "empty segment"
	case seg == "." || seg == "..":
		return "dot segment"
	case len(seg) > maxSegmentLen:
		return "segment too long"
	case isInternalName(seg):
		return "reserved name"
	}
	return ""
}

// isInternalName compares case-insensitively because some filesystems do.
func isInternalName(name string) bool {
	return len(name) >= len(internalPrefix) && strings.EqualFold(name[:len(internalPrefix)], internalPrefix)
}

func hasDriveLetter(p string) bool {
	return len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z')
}

// CleanUserPath validates a path that came from a client (a URL or a JSON field) and returns
// the key to use: p itself, minus one trailing slash. "" is the root and is returned as is.
//
// MLflow was bypassed again and again by one more decoding layer (CVE-2023-6831,
// CVE-2024-1560, CVE-2024-1558), so p is percent-decoded repeatedly until it stops changing,
// the way the laxest downstream decoder would, and every layer must be clean: no "..", "." or
// empty segment (also before a ";" path parameter), no "#", "?", backslash, NUL or other control
// character, no absolute path, "//host" or drive letter, and valid UTF-8. The key itself must
// then pass CheckKey. The error is fault.Invalid and quotes p.
func CleanUserPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	key, reason := cleanUserPath(p)
	if reason != "" {
		return "", errorf(ErrInvalidPath, "Invalid path %q: %s", p, reason)
	}
	return key, nil
}

func cleanUserPath(p string) (key, reason string) {
	if len(p) > MaxKeyLen+1 {
		return "", "too long"
	}
	if strings.HasPrefix(p, "/") {
		return "", "absolute path"
	}
	key = strings.TrimSuffix(p, "/")
	for layer := key; ; {
		if reason := layerProblem(layer); reason != "" {
			return "", reason
		}
		next := percentDecode(layer)
		if next == layer {
			break
		}
		layer = next
	}
	return key, keyProblem(key)
}

// layerProblem checks one decoding layer of a client path.
func layerProblem(layer string) string {
	switch {
	case !utf8.ValidString(layer):
		return "not UTF-8"
	case strings.ContainsFunc(layer, unicode.IsControl):
		return "control character"
	case strings.ContainsAny(layer, `\#?`):
		return `backslash, "#" or "?"`
	case strings.HasPrefix(layer, "/"):
		return "absolute path"
	case hasDriveLetter(layer):
		return "drive letter"
	}
	for seg := range strings.SplitSeq(layer, "/") {
		if reason := userSegmentProblem(seg); reason != "" {
			return reason
		}
	}
	return ""
}

// userSegmentProblem checks one segment of a client path, with its ";" parameters: servers
// that honour them read "..;x" as "..", and Python's urlparse moves "a;.." to a parameter.
func userSegmentProblem(seg string) string {
	name, params, _ := strings.Cut(seg, ";")
	switch {
	case name == "":
		return "empty segment"
	case name == "." || name == "..":
		return "dot segment"
	case slices.Contains(strings.Split(params, ";"), ".."):
		return `".." parameter`
	}
	return ""
}

// percentDecode decodes every valid %XX escape and leaves malformed ones as they are, like
// Python's urllib.parse.unquote: a strict decoder would stop where a lax one goes on.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}
