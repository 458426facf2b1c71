package search

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestEncodePageTokenMatchesMLflow(t *testing.T) {
	// Tokens from MLflow's SearchUtils.create_page_token.
	tests := map[int]string{
		1:             "eyJvZmZzZXQiOiAxfQ==",
		100:           "eyJvZmZzZXQiOiAxMDB9",
		50000:         "eyJvZmZzZXQiOiA1MDAwMH0=",
		1234567890123: "eyJvZmZzZXQiOiAxMjM0NTY3ODkwMTIzfQ==",
	}
	for offset, want := range tests {
		if got := EncodePageToken(offset); got != want {
			t.Errorf("EncodePageToken(%d) = %q, want %q", offset, got, want)
		}
	}
}

func TestPageTokenRoundTrip(t *testing.T) {
	for _, offset := range []int{0, 1, 99, 1000, 50000, 1 << 40} {
		got, err := DecodePageToken(EncodePageToken(offset))
		if err != nil || got != offset {
			t.Errorf("DecodePageToken(EncodePageToken(%d)) = %d, %v", offset, got, err)
		}
	}
}

func TestDecodePageToken(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"empty is the first page", "", 0},
		{"mlflow token", "eyJvZmZzZXQiOiAxMDB9", 100},
		{"offset as a string", b64(`{"offset": "12"}`), 12},
		{"extra fields", b64(`{"offset": 7, "x": 1}`), 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePageToken(tc.token)
			if err != nil || got != tc.want {
				t.Errorf("DecodePageToken(%q) = %d, %v; want %d", tc.token, got, err, tc.want)
			}
		})
	}
}

func TestDecodePageTokenGarbage(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, token, wantErr string
	}{
		{"not base64", "abc", "could not base64-decode"},
		{"url-safe alphabet", "-_-_", "could not base64-decode"},
		{"not json", b64("offset=5"), "decoded value"},
		{"json array", b64("[1]"), "decoded value"},
		{"json null", b64("null"), "parsed value"},
		{"no offset", b64("{}"), "parsed value"},
		{"negative", b64(`{"offset": -5}`), "not stringable"},
		{"fraction", b64(`{"offset": 1.5}`), "not stringable"},
		{"word", b64(`{"offset": "five"}`), "decoded value"},
		{"huge", b64(`{"offset": 1e40}`), "not stringable"},
		{"trailing data", b64(`{"offset": 1} x`), "decoded value"},
		{"long garbage", strings.Repeat("A", 1<<16), "decoded value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePageToken(tc.token)
			if err == nil {
				t.Fatalf("DecodePageToken(%q) = %d, want an error", tc.token, got)
			}
			assertInvalid(t, err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("DecodePageToken(%q) error %q, want it to contain %q", tc.token, err, tc.wantErr)
			}
		})
	}
}
