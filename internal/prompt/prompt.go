// Package prompt asks the init wizard's questions. Commands see only the
// Asker interface, so the wizard is tested with scripted answers, and the
// huh-based implementation is one of several.
package prompt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/huh"
)

// Option is one choice of a Select, with a line explaining it.
type Option struct {
	Value string
	Label string
}

// Asker asks one question at a time. An answer that validate refuses is
// never returned: the question is asked again with the reason.
type Asker interface {
	Input(ctx context.Context, title, help, def string, validate func(string) error) (string, error)
	Confirm(ctx context.Context, title, help string, def bool, validate func(bool) error) (bool, error)
	Select(ctx context.Context, title, help string, options []Option, def string) (string, error)
	// Secret reads a value without echoing it.
	Secret(ctx context.Context, title, help string, validate func(string) error) (string, error)
	// Say shows text between questions, such as what the answers will do
	// before a confirmation.
	Say(text string)
	// Close ends the dialogue and gives the terminal back; nothing may be
	// asked afterwards.
	Close() error
}

// ErrNoAnswer: a question got no answer that could be accepted, and none
// will come (the input ended, or it kept giving refused answers).
var ErrNoAnswer = errors.New("no acceptable answer")

// ErrAborted: the user stopped the dialogue (Ctrl-C).
var ErrAborted = huh.ErrUserAborted

// MaxTries bounds the lines read for one question in accessible mode,
// refused answers included, so that piped input can never make the wizard
// ask forever (yes | runnerctl init --accessible).
const MaxTries = 5

// Huh asks through charmbracelet/huh. Accessible mode reads plain lines
// (screen readers, piped answers); otherwise stdin must be a terminal, and
// one full-screen program asks every question (see dialogue).
type Huh struct {
	In         io.Reader
	Out        io.Writer
	Accessible bool

	lines   *lineReader // accessible mode: In, with the accounting MaxTries needs
	session *session    // terminal mode: started by the first question
}

// New returns an Asker reading in and writing to out.
func New(in io.Reader, out io.Writer, accessible bool) *Huh {
	return &Huh{In: in, Out: out, Accessible: accessible}
}

// keyMap is huh's default with LF (ctrl+j) accepted wherever Enter is.
// Answers typed ahead, before a prompt has put the terminal into raw mode,
// pass through the terminal's line discipline, which turns Enter's CR into
// LF; without this, such an answer could never be submitted. ctrl+j also
// moves down a select list by default: that use goes, or a typed-ahead
// Enter would move instead of choosing.
func keyMap() *huh.KeyMap {
	km := huh.NewDefaultKeyMap()
	for _, b := range []*key.Binding{&km.Input.Next, &km.Input.Submit, &km.Select.Next, &km.Select.Submit, &km.Confirm.Next, &km.Confirm.Submit} {
		b.SetKeys(append(b.Keys(), "ctrl+j")...)
	}
	var down []string
	for _, k := range km.Select.Down.Keys() {
		if k != "ctrl+j" {
			down = append(down, k)
		}
	}
	km.Select.Down.SetKeys(down...)
	return km
}

// progressKeys are the keys that may end a question: submit it, or, on a
// confirmation, answer it outright (y, n). (Each question is a form of its
// own, so huh disables "back" there: no key goes to a previous question.)
func progressKeys(km *huh.KeyMap) []key.Binding {
	return []key.Binding{km.Input.Next, km.Input.Submit, km.Select.Next, km.Select.Submit,
		km.Confirm.Next, km.Confirm.Submit, km.Confirm.Accept, km.Confirm.Reject}
}

// Input asks for a line of text; surrounding spaces are dropped, and an
// empty answer takes def.
func (h *Huh) Input(ctx context.Context, title, help, def string, validate func(string) error) (string, error) {
	answer := func(s string) string { return cmpOr(strings.TrimSpace(s), def) }
	check := func(s string) error {
		if validate == nil {
			return nil
		}
		return validate(answer(s))
	}
	if h.Accessible {
		prompt := title
		if def != "" {
			prompt += " (default " + def + ")"
		}
		var v string
		err := h.plainAsk(ctx, title, help, prompt, func(line string) error {
			v = answer(line)
			return check(line)
		})
		return v, err
	}
	v := def
	in := huh.NewInput().Title(title).Description(help).Value(&v).Validate(check)
	if def != "" {
		in = in.Placeholder(def)
	}
	// In place: huh does not let an answer be submitted until check
	// accepts it.
	if err := h.tui().ask(ctx, title, in); err != nil {
		return "", fmt.Errorf("%s: %w", title, err)
	}
	return answer(v), nil
}

// Confirm asks a yes/no question.
func (h *Huh) Confirm(ctx context.Context, title, help string, def bool, validate func(bool) error) (bool, error) {
	if h.Accessible {
		var v bool
		choices := "[y/N]"
		if def {
			choices = "[Y/n]"
		}
		err := h.plainAsk(ctx, title, help, title+" "+choices, func(line string) error {
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "":
				v = def
			case "y", "yes":
				v = true
			case "n", "no":
				v = false
			default:
				return fmt.Errorf("%q is not yes or no", strings.TrimSpace(line))
			}
			if validate != nil {
				return validate(v)
			}
			return nil
		})
		return v, err
	}
	return tuiAsk(h, ctx, title, func() (*bool, huh.Field) {
		v := def
		return &v, huh.NewConfirm().Title(title).Description(help + " (default " + yesNo(def) + ")").Value(&v)
	}, validate)
}

// Select asks to choose one option; it cannot be answered wrongly.
func (h *Huh) Select(ctx context.Context, title, help string, options []Option, def string) (string, error) {
	if h.Accessible {
		// Numbered as huh numbers them. (huh's own accessible select is
		// not used: when the input ends after a number out of range, it
		// takes that number and fails.)
		var b strings.Builder
		if help != "" {
			b.WriteString(help + "\n")
		}
		b.WriteString(title)
		defNum := 0
		for i, o := range options {
			fmt.Fprintf(&b, "\n%d. %s", i+1, o.Label)
			if o.Value == def {
				defNum = i + 1
			}
		}
		fmt.Fprintln(h.Out, b.String())
		prompt := fmt.Sprintf("Enter a number between 1 and %d", len(options))
		if defNum > 0 {
			prompt += fmt.Sprintf(" (default %d)", defNum)
		}
		var v string
		err := h.plainAsk(ctx, title, "", prompt+":", func(line string) error {
			line = strings.TrimSpace(line)
			if line == "" && defNum > 0 {
				v = def
				return nil
			}
			for i, o := range options {
				if line == strconv.Itoa(i+1) || line == o.Value {
					v = o.Value
					return nil
				}
			}
			return fmt.Errorf("%q is not a number between 1 and %d", line, len(options))
		})
		return v, err
	}
	return tuiAsk(h, ctx, title, func() (*string, huh.Field) {
		v := def
		opts := make([]huh.Option[string], len(options))
		for i, o := range options {
			opts[i] = huh.NewOption(o.Label, o.Value)
		}
		return &v, huh.NewSelect[string]().Title(title).Description(help).Options(opts...).Value(&v)
	}, nil)
}

// Secret reads a masked value. In accessible mode it needs stdin to be a
// terminal, whose echo it turns off.
func (h *Huh) Secret(ctx context.Context, title, help string, validate func(string) error) (string, error) {
	check := func(s string) error {
		if validate == nil {
			return nil
		}
		return validate(strings.TrimSpace(s))
	}
	var v string
	in := huh.NewInput().Title(title).Description(help).EchoMode(huh.EchoModePassword).Value(&v).Validate(check)
	if !h.Accessible {
		if err := h.tui().ask(ctx, title, in); err != nil {
			return "", fmt.Errorf("%s: %w", title, err)
		}
		return strings.TrimSpace(v), nil
	}
	if _, ok := h.In.(interface{ Fd() uintptr }); !ok {
		return "", fmt.Errorf("%s: %w: it is read without echo, from a terminal on stdin", title, ErrNoAnswer)
	}
	if help != "" {
		fmt.Fprintln(h.Out, help)
	}
	// huh's password prompt reads the terminal itself, a byte at a time
	// (nothing is read ahead of the next question), and asks again while
	// check refuses; on a descriptor that is no terminal it fails.
	if err := huh.NewForm(huh.NewGroup(in)).WithAccessible(true).WithInput(h.In).WithOutput(h.Out).RunWithContext(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", title, err)
	}
	return strings.TrimSpace(v), nil
}

// Say shows text: above the question in a terminal, as lines in
// accessible mode (or before the first question).
func (h *Huh) Say(text string) {
	if h.Accessible || h.session == nil {
		fmt.Fprintln(h.Out, text)
		return
	}
	h.session.say(text)
}

// Close ends the terminal program, if one runs, restoring the terminal.
func (h *Huh) Close() error {
	s := h.session
	if s == nil {
		return nil
	}
	h.session = nil
	return s.close()
}

// plainAsk asks a question in accessible mode: help, then prompt, then one
// line, until take accepts a line (it keeps the answer and says why not).
// Each refused line is followed by its reason and the prompt again; the
// end of the input, or MaxTries lines, end the question with ErrNoAnswer.
// An empty line is an answer (take gives it the default), so at the end of
// the input a question with an acceptable default takes it.
func (h *Huh) plainAsk(ctx context.Context, title, help, prompt string, take func(line string) error) error {
	l := h.plain()
	l.startQuestion()
	if help != "" {
		fmt.Fprintln(h.Out, help)
	}
	for {
		var line string
		// huh's accessible input: one line, no validation of its own.
		err := huh.NewForm(huh.NewGroup(huh.NewInput().Title(prompt).Value(&line))).
			WithAccessible(true).WithInput(l).WithOutput(h.Out).RunWithContext(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", title, err)
		}
		terr := take(line)
		switch {
		case terr == nil:
			return nil
		case l.ended:
			return fmt.Errorf("%w to %q: %v (the input ended)", ErrNoAnswer, title, terr)
		case l.spent():
			return fmt.Errorf("%w to %q: %v (%d answers read)", ErrNoAnswer, title, terr, MaxTries)
		}
		fmt.Fprintln(h.Out, title+": "+terr.Error())
	}
}

// tuiAsk asks a question whose field cannot check its answer in place (a
// confirmation, a selection) until validate accepts the answer: a refused
// one is said above the question, which is asked again.
func tuiAsk[T any](h *Huh, ctx context.Context, title string, field func() (*T, huh.Field), validate func(T) error) (T, error) {
	for {
		v, f := field()
		if err := h.tui().ask(ctx, title, f); err != nil {
			return *v, fmt.Errorf("%s: %w", title, err)
		}
		if validate == nil {
			return *v, nil
		}
		err := validate(*v)
		if err == nil {
			return *v, nil
		}
		h.Say(title + ": " + err.Error())
	}
}

func (h *Huh) plain() *lineReader {
	if h.lines == nil {
		h.lines = &lineReader{r: h.In}
	}
	return h.lines
}

// lineReader reads at most one byte per call. Accessible mode starts a new
// line scanner for every question; fed a byte at a time, none of them
// reads ahead into the next answer. It also counts the lines of the
// current question and reports the end of them after MaxTries, which ends
// huh's own loops (a number out of range, a "maybe" for yes/no) as the end
// of the input would.
type lineReader struct {
	r     io.Reader
	ended bool // the input itself ended (or failed)
	lines int  // lines read for the current question
}

func (l *lineReader) startQuestion() { l.lines = 0 }

func (l *lineReader) spent() bool { return l.lines >= MaxTries }

func (l *lineReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.ended || l.spent() {
		return 0, io.EOF
	}
	n, err := l.r.Read(p[:1])
	if n == 1 && p[0] == '\n' {
		l.lines++
	}
	if err != nil {
		l.ended = true
	}
	return n, err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Static is an Asker with scripted answers, for tests of code that asks:
// answers are taken in order, each as the text a user would type (an
// empty one takes the default), and a refused one is recorded and the next
// answer taken, as a user would try again.
type Static struct {
	Answers []string
	Said    []string // Say's texts and the reasons of refused answers
}

var _ Asker = (*Static)(nil)

func (s *Static) next(title string) (string, error) {
	if len(s.Answers) == 0 {
		return "", fmt.Errorf("%w to %q: no scripted answer left", ErrNoAnswer, title)
	}
	a := s.Answers[0]
	s.Answers = s.Answers[1:]
	return a, nil
}

func staticAsk[T any](s *Static, title string, parse func(string) (T, error), validate func(T) error) (T, error) {
	for {
		a, err := s.next(title)
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := parse(a)
		if err == nil && validate != nil {
			err = validate(v)
		}
		if err == nil {
			return v, nil
		}
		s.Said = append(s.Said, title+": "+err.Error())
	}
}

// Input takes the next answer.
func (s *Static) Input(_ context.Context, title, _, def string, validate func(string) error) (string, error) {
	return staticAsk(s, title, func(a string) (string, error) { return cmpOr(strings.TrimSpace(a), def), nil }, validate)
}

// Confirm takes the next answer: y, yes, n, no, or empty for def.
func (s *Static) Confirm(_ context.Context, title, _ string, def bool, validate func(bool) error) (bool, error) {
	return staticAsk(s, title, func(a string) (bool, error) {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		return false, fmt.Errorf("%q is not yes or no", a)
	}, validate)
}

// Select takes the next answer: an option's value, or its number from 1.
func (s *Static) Select(_ context.Context, title, _ string, options []Option, def string) (string, error) {
	return staticAsk(s, title, func(a string) (string, error) {
		a = strings.TrimSpace(a)
		if a == "" {
			return def, nil
		}
		if n, err := strconv.Atoi(a); err == nil && n >= 1 && n <= len(options) {
			return options[n-1].Value, nil
		}
		for _, o := range options {
			if o.Value == a {
				return a, nil
			}
		}
		return "", fmt.Errorf("%q is not one of the options", a)
	}, nil)
}

// Secret takes the next answer.
func (s *Static) Secret(_ context.Context, title, _ string, validate func(string) error) (string, error) {
	return staticAsk(s, title, func(a string) (string, error) { return strings.TrimSpace(a), nil }, validate)
}

// Say records text.
func (s *Static) Say(text string) { s.Said = append(s.Said, text) }

// Close does nothing.
func (s *Static) Close() error { return nil }
