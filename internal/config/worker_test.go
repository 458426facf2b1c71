package config

import (
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	cases := []struct {
		in   string
		want Bytes
		err  bool
	}{
		{"1073741824", 1 << 30, false},
		{"8GiB", 8 << 30, false},
		{"512MiB", 512 << 20, false},
		{"1G", 1 << 30, false},
		{"100k", 100 << 10, false},
		{"2TB", 2 << 40, false},
		{"8 GiB", 8 << 30, false},
		{"-1", 0, true},
		{"1.5GiB", 0, true},
		{"lots", 0, true},
		{"99999999999T", 0, true},
	}
	for _, c := range cases {
		var b Bytes
		err := b.Set(c.in)
		if (err != nil) != c.err || (!c.err && b != c.want) {
			t.Errorf("Set(%q) = %d, %v; want %d (error %v)", c.in, b, err, c.want, c.err)
		}
	}
	if s := Bytes(8 << 30).String(); s != "8GiB" {
		t.Errorf("String = %s", s)
	}
}

func TestWorkerResolve(t *testing.T) {
	t.Setenv("MLSHIP_TEST_PASSED", "from-server")
	cases := []struct {
		name   string
		modify func(*Worker)
		want   string // in the error; empty: valid
	}{
		{"defaults", func(w *Worker) {}, ""},
		{"unknown sandbox", func(w *Worker) { w.Sandbox = "chroot" }, "--worker-sandbox"},
		{"tiny memory", func(w *Worker) { w.MemoryLimit = 1 << 20 }, "--worker-memory-limit"},
		{"no cpu", func(w *Worker) { w.CPULimit = 0 }, "--worker-cpu-limit"},
		{"few processes", func(w *Worker) { w.MaxProcesses = 2 }, "--worker-max-processes"},
		{"bad env", func(w *Worker) { w.Env = []string{"A B=1"} }, "--worker-env"},
		{"env not set", func(w *Worker) { w.Env = []string{"MLSHIP_TEST_NOT_SET_ANYWHERE"} }, "has no"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := DefaultWorker()
			c.modify(&w)
			err := w.Resolve()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	w := DefaultWorker()
	w.Env = []string{"MLSHIP_TEST_PASSED", "X=a=b"}
	if err := w.Resolve(); err != nil || strings.Join(w.Env, " ") != "MLSHIP_TEST_PASSED=from-server X=a=b" {
		t.Fatalf("Env = %v, %v", w.Env, err)
	}
}
