package main

import (
	"context"
	"testing"
)

// Every mistake in a command line exits 2, as the README promises: cobra reports
// unknown commands and wrong positional arguments as plain errors.
func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"unknown command", []string{"bogus"}, exitUsage},
		{"unknown subcommand of a group", []string{"models", "bogus"}, exitUsage},
		{"missing argument", []string{"models", "show"}, exitUsage},
		{"too many arguments", []string{"version", "extra"}, exitUsage},
		{"unknown flag", []string{"version", "--bogus"}, exitUsage},
		{"group without a subcommand shows its help", []string{"models"}, exitOK},
		{"help", []string{"models", "--help"}, exitOK},
		{"version", []string{"version"}, exitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(context.Background(), tc.args); got != tc.want {
				t.Errorf("mlship %v exited %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}
