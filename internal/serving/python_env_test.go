package serving

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPythonEnvManagerChoice(t *testing.T) {
	uv := filepath.Join(t.TempDir(), "uv")
	if err := os.WriteFile(uv, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no uv on the PATH
	tests := []struct {
		name            string
		manager, uv, py string
		want            string // uv, local, or an error's words
	}{
		{"uv found: uv", "", uv, "", "uv"},
		{"no uv: local", "", "", "", "local"},
		{"--python keeps the local interpreter", "", uv, "/usr/bin/python3", "local"},
		{"--env-manager uv with --python", "uv", uv, "/usr/bin/python3", "uv"},
		{"--env-manager local with uv", "local", uv, "", "local"},
		{"--env-manager uv without uv", "uv", "", "", "--env-manager uv needs uv"},
		{"--uv that is not there", "", filepath.Join(t.TempDir(), "nothing"), "", "--uv"},
		{"an unknown manager", "conda", uv, "", "--env-manager must be uv or local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rc := RuntimeConfig{Python: tt.py, Logger: slog.New(slog.DiscardHandler)}
			err := rc.UsePythonEnvs(tt.manager, tt.uv, dir)
			got := "local"
			switch {
			case err != nil:
				got = err.Error()
			case rc.PythonEnvs != nil:
				got = "uv"
				if rc.PythonEnvs.UV != tt.uv || rc.PythonEnvs.Dir != dir || rc.PythonEnvs.Python != tt.py {
					t.Errorf("builder %+v for %+v", rc.PythonEnvs, tt)
				}
			}
			if !strings.Contains(got, tt.want) || (err == nil) != (tt.want == "uv" || tt.want == "local") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
