package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// onTerminal reports whether w is a terminal. Progress bars are drawn only there: redrawn
// lines piped into a file or a CI log are noise (as curl and pip do).
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
