package blob_test

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/fault"
)

// Attack strings from MLflow's path-traversal CVEs (reference/security.md, sections 1 and 3).
var attackPaths = []string{
	"../x",
	"a/../../etc/passwd",
	"..%2f..%2fetc",
	"..%2F..%2Fetc%2Fpasswd",
	"%2e%2e%2f",
	"%2E%2E/x",
	"%252e%252e%252f",
	"%252E%252E%252F%252E%252E%252Fetc%252fpasswd",
	"%25252e%25252e%25252f",
	"%%32e%%32e/x",
	`..\..\x`,
	"a%5c..%5cx",
	"/etc/passwd",
	"/",
	"%2fetc%2fpasswd",
	`C:\x`,
	"C:/x",
	"c:",
	"C%3a/x",
	"a#/../..",
	"a%23/../..",
	"a%2523/x",
	"a;x/../..",
	"..;/x",
	"0;..",
	"a;x;../b",
	"a/..;x/b",
	"a/%2e%2e;x/b",
	"a?/a",
	"a%3f/../../x",
	"a\x00b",
	"a%00b",
	"a%2500b",
	"\u0017",
	"a%17b",
	"a\u0085b",
	"a/%2e%2e/b",
	"a/%2e/b",
	"a/./b",
	"//host/x",
	"%2f%2fhost/x",
	"a//b",
	"dir//",
	"dir%2f",
	"a%c0%ae%c0%ae/x",
	"a%ff",
	".mlship-uploads/0123/1",
	".MLSHIP-tmp-x",
	"a/.mlship-tmp-1",
	strings.Repeat("a", blob.MaxKeyLen+1),
}

func TestCleanUserPathRejectsAttacks(t *testing.T) {
	for _, p := range attackPaths {
		t.Run(strconv.Quote(p), func(t *testing.T) {
			key, err := blob.CleanUserPath(p)
			if err == nil {
				t.Fatalf("CleanUserPath(%q) = %q, want an error", p, key)
			}
			if fault.KindOf(err) != fault.Invalid || !strings.HasPrefix(fault.Message(err), "Invalid path") {
				t.Errorf("error = %v (kind %v), want fault.Invalid \"Invalid path ...\"", err, fault.KindOf(err))
			}
			if len(p) <= blob.MaxKeyLen && !strings.Contains(fault.Message(err), strconv.Quote(p)) {
				t.Errorf("message %q does not quote the path", fault.Message(err))
			}
		})
	}
}

// longestKey is MaxKeyLen bytes long, in segments of the longest allowed name.
var longestKey = strings.Repeat(strings.Repeat("a", 254)+"/", 4) + "abcd"

func TestCleanUserPathAccepts(t *testing.T) {
	tests := []struct{ path, key string }{
		{"", ""},
		{"dir/sub/f.txt", "dir/sub/f.txt"},
		{"dir/sub/", "dir/sub"},
		{"ünï/cødé 文件.txt", "ünï/cødé 文件.txt"},
		{"a%20b", "a%20b"},
		{"model/MLmodel", "model/MLmodel"},
		{"a..b/..c/d..", "a..b/..c/d.."},
		{".hidden/x", ".hidden/x"},
		{"a;b=c/d", "a;b=c/d"},
		{"ab:c", "ab:c"},
		{"100%", "100%"},
		{"a%2fb", "a%2fb"},
		{longestKey, longestKey},
	}
	for _, tt := range tests {
		key, err := blob.CleanUserPath(tt.path)
		if err != nil || key != tt.key {
			t.Errorf("CleanUserPath(%q) = %q, %v; want %q", tt.path, key, err, tt.key)
		}
	}
}

func TestCheckKey(t *testing.T) {
	valid := []string{"a", "a/b/c.txt", "ünï/文件", "a%2e%2e", "a..b", ".hidden", "a;b", "dir/x:y"}
	invalid := []string{
		"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", `a\b`, "a\x00b", "a\tb", "a\x7fb",
		"C:", "c:/x", ".mlship-tmp-1", "x/.Mlship-uploads", "\xff", strings.Repeat("s", 256),
		strings.Repeat("a/", blob.MaxKeyLen/2) + "a",
	}
	for _, key := range valid {
		if err := blob.CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range invalid {
		if err := blob.CheckKey(key); fault.KindOf(err) != fault.Invalid {
			t.Errorf("CheckKey(%q) = %v, want a fault.Invalid error", key, err)
		}
	}
}

func TestPercentDecodeIsLax(t *testing.T) {
	tests := map[string]string{"%2e%2E": "..", "%%32e": "%2e", "%zz%4": "%zz%4", "a%20b": "a b", "%": "%"}
	for in, want := range tests {
		if got := blob.PercentDecode(in); got != want {
			t.Errorf("PercentDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCleanUserPath(f *testing.F) {
	for _, p := range attackPaths {
		f.Add(p)
	}
	for _, p := range []string{"", "dir/sub/f.txt", "ünï/cødé 文件.txt", "a%20b", "a%252fb", "a;b/c"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		key, err := blob.CleanUserPath(p)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("CleanUserPath(%q) error %v is not fault.Invalid", p, err)
			}
			return
		}
		if key != strings.TrimSuffix(p, "/") {
			t.Fatalf("CleanUserPath(%q) = %q, want the path itself", p, key)
		}
		if key == "" {
			return
		}
		if err := blob.CheckKey(key); err != nil {
			t.Fatalf("CleanUserPath accepted %q but CheckKey refuses it: %v", p, err)
		}
		decoded := decodeFully(key)
		if hasDotDotSegment(decoded) || !filepath.IsLocal(decoded) || strings.ContainsAny(decoded, "#\\\x00") {
			t.Fatalf("CleanUserPath accepted %q, which decodes to %q", p, decoded)
		}
	})
}

var percentEscape = regexp.MustCompile(`%[0-9a-fA-F]{2}`)

// decodeFully percent-decodes s until it stops changing. It is written apart from the
// package's decoder, so the fuzz test does not trust the code it checks.
func decodeFully(s string) string {
	for {
		next := percentEscape.ReplaceAllStringFunc(s, func(e string) string {
			b, _ := strconv.ParseUint(e[1:], 16, 8)
			return string([]byte{byte(b)})
		})
		if next == s {
			return s
		}
		s = next
	}
}

func hasDotDotSegment(p string) bool {
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' || r == ';' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}
