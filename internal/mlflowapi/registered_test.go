package mlflowapi

import (
	"reflect"
	"testing"

	"github.com/mlship/mlship/internal/cas"
)

func TestListManifest(t *testing.T) {
	m := cas.Manifest{Entries: []cas.Entry{
		{Path: "MLmodel", Size: 10}, {Path: "code/a.py", Size: 3}, {Path: "code/lib/b.py", Size: 4},
		{Path: "data/x.bin", Size: 0}, {Path: "model.skops", Size: 7},
	}}
	size := func(n int64) *int64 { return &n }
	tests := []struct {
		dir  string
		want []fileInfo
	}{
		{"", []fileInfo{{Path: "MLmodel", FileSize: size(10)}, {Path: "code", IsDir: true}, {Path: "data", IsDir: true}, {Path: "model.skops", FileSize: size(7)}}},
		{"code", []fileInfo{{Path: "a.py", FileSize: size(3)}, {Path: "lib", IsDir: true}}},
		{"data", []fileInfo{{Path: "x.bin"}}},
		{"model.skops", []fileInfo{}}, // a file lists as empty, as stored artifacts do
		{"cod", []fileInfo{}},
	}
	for _, tt := range tests {
		if got := listManifest(m, tt.dir); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("listManifest(%q) = %+v, want %+v", tt.dir, got, tt.want)
		}
	}
}

func TestRegisteredPaths(t *testing.T) {
	for key, want := range map[string]bool{
		"_model-versions": true, "_model-versions/sha256/ab": true, "_model-versions2/x": false,
		"1/run/artifacts/_model-versions": false, "": false,
	} {
		if got := isRegistered(key); got != want {
			t.Errorf("isRegistered(%q) = %v", key, got)
		}
	}
	if got := registeredURI("sha256:abc"); got != "mlflow-artifacts:/_model-versions/sha256/abc" {
		t.Errorf("registeredURI = %q", got)
	}
}
