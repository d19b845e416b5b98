// Package prompt asks the init wizard's questions. Commands see only the
// Asker interface, so the wizard is tested with scripted answers, and the
// huh-based implementation is one of several.
package prompt

import (
	"context"
	"io"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/huh"
)

// Option is one choice of a Select, with a line explaining it.
type Option struct {
	Value string
	Label string
}

// Asker asks one question at a time.
type Asker interface {
	Input(ctx context.Context, title, help, def string, validate func(string) error) (string, error)
	Confirm(ctx context.Context, title, help string, def bool) (bool, error)
	Select(ctx context.Context, title, help string, options []Option, def string) (string, error)
	// Secret reads a value without echoing it.
	Secret(ctx context.Context, title, help string) (string, error)
}

// Huh asks through charmbracelet/huh. Accessible mode reads plain lines
// (screen readers, piped answers); otherwise it needs a terminal.
type Huh struct {
	In         io.Reader
	Out        io.Writer
	Accessible bool
}

func (h Huh) run(ctx context.Context, f huh.Field) error {
	in := h.In
	if h.Accessible {
		// Accessible mode starts a new line scanner for every question; fed
		// a byte at a time, none of them reads ahead into the next answer.
		in = byteReader{h.In}
	}
	return huh.NewForm(huh.NewGroup(f)).
		WithAccessible(h.Accessible).
		WithInput(in).
		WithOutput(h.Out).
		WithShowHelp(!h.Accessible).
		WithKeyMap(keyMap()).
		RunWithContext(ctx)
}

// keyMap is huh's default with LF (ctrl+j) accepted wherever Enter is.
// Answers typed ahead, before a prompt has put the terminal into raw mode,
// pass through the terminal's line discipline, which turns Enter's CR into
// LF; without this, such an answer could never be submitted.
func keyMap() *huh.KeyMap {
	km := huh.NewDefaultKeyMap()
	for _, b := range []*key.Binding{&km.Input.Next, &km.Input.Submit, &km.Select.Next, &km.Select.Submit, &km.Confirm.Next, &km.Confirm.Submit} {
		b.SetKeys(append(b.Keys(), "ctrl+j")...)
	}
	return km
}

// Input asks for a line of text.
func (h Huh) Input(ctx context.Context, title, help, def string, validate func(string) error) (string, error) {
	v := def
	in := huh.NewInput().Title(title).Description(help).Value(&v)
	if def != "" {
		in = in.Placeholder(def)
	}
	if validate != nil {
		in = in.Validate(validate)
	}
	if err := h.run(ctx, in); err != nil {
		return "", err
	}
	if v == "" {
		v = def
	}
	return v, nil
}

// Confirm asks a yes/no question.
func (h Huh) Confirm(ctx context.Context, title, help string, def bool) (bool, error) {
	v := def
	err := h.run(ctx, huh.NewConfirm().Title(title).Description(help+" (default "+strconv.FormatBool(def)+")").Value(&v))
	return v, err
}

// Select asks to choose one option.
func (h Huh) Select(ctx context.Context, title, help string, options []Option, def string) (string, error) {
	v := def
	opts := make([]huh.Option[string], len(options))
	for i, o := range options {
		opts[i] = huh.NewOption(o.Label, o.Value)
	}
	err := h.run(ctx, huh.NewSelect[string]().Title(title).Description(help).Options(opts...).Value(&v))
	return v, err
}

// Secret reads a masked value.
func (h Huh) Secret(ctx context.Context, title, help string) (string, error) {
	var v string
	err := h.run(ctx, huh.NewInput().Title(title).Description(help).EchoMode(huh.EchoModePassword).Value(&v))
	return v, err
}

// byteReader reads at most one byte per call.
type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return b.r.Read(p[:1])
}
