package cli

import "os"

// colorize marks a warning in red when stderr is a terminal and colors are
// not turned off (--no-color or NO_COLOR). Colors never reach files, pipes
// or JSON.
func colorize(g *globals, s string) string {
	if !g.color {
		return s
	}
	return "\x1b[1;31m" + s + "\x1b[0m"
}

// colorsOn reports whether colors may be written to stream: it is a
// terminal, and neither --no-color nor NO_COLOR turned them off. The root
// asks it for stderr (warnings), status and doctor for stdout (tables).
func (f *factory) colorsOn(g *globals, stream any) bool {
	return !g.noColor && f.getenv("NO_COLOR") == "" && isTerminal(stream)
}

// isTerminal reports whether a stream (stdin, stdout or stderr) is a
// terminal; anything that is not an *os.File is not.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
