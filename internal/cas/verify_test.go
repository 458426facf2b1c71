package cas_test

import (
	"slices"
	"testing"

	"github.com/mlship/mlship/internal/cas"
)

func TestVerify(t *testing.T) {
	files := map[string]string{
		"MLmodel":           "flavors: {}",
		"model/weights.bin": "0123456789",
		"model/copy.bin":    "0123456789", // same object as weights.bin
		"tokenizer.json":    `{"vocab": []}`,
	}
	weights, tokenizer := digestOf("0123456789"), digestOf(`{"vocab": []}`)
	tests := []struct {
		name   string
		damage func(f fixture, t *testing.T, manifest string)
		want   func(manifest string) []cas.Problem
	}{
		{
			name:   "intact",
			damage: func(fixture, *testing.T, string) {},
			want:   func(string) []cas.Problem { return nil },
		},
		{
			name: "corrupt and missing",
			damage: func(f fixture, t *testing.T, _ string) {
				f.damage(t, objectKey(weights), flipLast)
				f.remove(t, objectKey(tokenizer))
			},
			want: func(string) []cas.Problem {
				return []cas.Problem{
					{Path: "model/copy.bin", Digest: weights, Kind: cas.ProblemCorrupt},
					{Path: "model/weights.bin", Digest: weights, Kind: cas.ProblemCorrupt},
					{Path: "tokenizer.json", Digest: tokenizer, Kind: cas.ProblemMissing},
				}
			},
		},
		{
			name:   "truncated",
			damage: func(f fixture, t *testing.T, _ string) { f.damage(t, objectKey(tokenizer), truncate) },
			want: func(string) []cas.Problem {
				return []cas.Problem{{Path: "tokenizer.json", Digest: tokenizer, Kind: cas.ProblemSize}}
			},
		},
		{
			name:   "manifest corrupt",
			damage: func(f fixture, t *testing.T, m string) { f.damage(t, manifestKey(m), flipFirst) },
			want:   func(m string) []cas.Problem { return []cas.Problem{{Digest: m, Kind: cas.ProblemCorrupt}} },
		},
		{
			name:   "manifest missing",
			damage: func(f fixture, t *testing.T, m string) { f.remove(t, manifestKey(m)) },
			want:   func(m string) []cas.Problem { return []cas.Problem{{Digest: m, Kind: cas.ProblemMissing}} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, d := f.importDir(t, "runs/1/model", files)
			tt.damage(f, t, d)
			got, err := f.cas.Verify(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want(d); !slices.Equal(got, want) {
				t.Errorf("Verify =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestImportRepairs checks that importing again stores anew a file whose object was damaged.
func TestImportRepairs(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{"a.bin": "aaaa", "b.bin": "bbbb"}
	_, d := f.importDir(t, "src", files)
	f.damage(t, objectKey(digestOf("aaaa")), truncate)
	f.remove(t, objectKey(digestOf("bbbb")))
	if _, again, err := f.cas.ImportDir(t.Context(), f.blob, "src", nil); err != nil || again != d {
		t.Fatalf("ImportDir again = %s, %v; want %s", again, err, d)
	}
	if problems, err := f.cas.Verify(t.Context(), d); problems != nil || err != nil {
		t.Errorf("Verify after the second import = %+v, %v", problems, err)
	}
}
