package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
)

// Main is a benchmark's main: it parses the command line, runs until done or
// interrupted, and exits 2 for a bad command line, 130 when interrupted (the servers
// it started are stopped by then) and 1 when the run failed.
func Main[C any](name string, parse func(args []string, stderr io.Writer) (C, error),
	run func(ctx context.Context, cfg C, out io.Writer, logger *log.Logger) error) {
	cfg, err := parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg, os.Stdout, log.New(os.Stderr, "bench: ", log.Ltime))
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, name+": interrupted; the servers were stopped")
		stop()
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, name+": FAILED:", err)
		stop()
		os.Exit(1)
	}
}
