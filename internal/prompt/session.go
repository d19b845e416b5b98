package prompt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/huh"
)

// A terminal session is one Bubble Tea program that asks every question
// of a run, one huh form at a time, until Close.
//
// One program rather than one per question (huh's own Run) because of
// keys typed ahead, which a fast typist, a paste or a test sends: a
// program reads its input in chunks, so the program of one question
// reads the answers to the next ones too, and drops them when it ends.
// The session's program reads the terminal from the first question to the
// last, and the dialogue model hands each key to the question it belongs
// to (see dialogue.feed).
type session struct {
	prog  *tea.Program
	ended chan struct{} // closed when the program has ended
	err   error         // why it ended; read once ended is closed
}

// tui returns the running session, starting it on first use.
func (h *Huh) tui() *session {
	if h.session == nil {
		km := keyMap()
		p := tea.NewProgram(&dialogue{keyMap: km, progress: progressKeys(km)}, tea.WithInput(h.In), tea.WithOutput(h.Out))
		s := &session{prog: p, ended: make(chan struct{})}
		go func() {
			_, s.err = p.Run()
			close(s.ended)
		}()
		h.session = s
	}
	return h.session
}

// ask shows f until it is answered (or the user stops).
func (s *session) ask(ctx context.Context, title string, f huh.Field) error {
	reply := make(chan error, 1)
	s.prog.Send(askMsg{field: f, title: title, reply: reply})
	select {
	case err := <-reply:
		return err
	case <-s.ended:
		select {
		case err := <-reply:
			return err
		default:
		}
		if s.err == nil || errors.Is(s.err, tea.ErrInterrupted) {
			return ErrAborted
		}
		return fmt.Errorf("terminal: %w", s.err)
	case <-ctx.Done():
		s.prog.Send(dropMsg{})
		return ctx.Err()
	}
}

func (s *session) say(text string) { s.prog.Send(sayMsg(text)) }

func (s *session) close() error {
	s.prog.Send(endMsg{})
	<-s.ended
	if errors.Is(s.err, tea.ErrInterrupted) {
		return ErrAborted
	}
	return s.err
}

// holdLimit bounds how long typed-ahead keys wait after a key that should
// end the question (see dialogue.feed). huh ends a question within a few
// messages of such a key; the limit only matters when it does not (Enter
// on a select filtered down to no option), and then keeps the dialogue
// from waiting for ever.
const holdLimit = 2 * time.Second

// dialogue is the session's model: it shows the question being asked, and
// queues the keys that arrive, giving them to the question in order.
//
// huh ends a question asynchronously: Enter on a valid answer yields a
// command whose message, some turns of the event loop later, completes
// the form. Keys already read from the terminal (typed ahead) would reach
// the form in between and land in the answer being submitted. So after a
// key that may end the question, the dialogue holds the queue until the
// form is completed (the rest is the next question's) or has refused the
// answer (the rest corrects it, in place).
type dialogue struct {
	keyMap   *huh.KeyMap
	progress []key.Binding

	form  *huh.Form
	title string
	reply chan<- error

	typed  []tea.KeyMsg // keys not yet given to a question
	held   bool         // a key that may end the question went in
	holdID int
}

type (
	askMsg struct {
		field huh.Field
		title string
		reply chan<- error
	}
	sayMsg     string
	releaseMsg int      // the hold numbered so has lasted holdLimit
	dropMsg    struct{} // the asker gave up on the question
	endMsg     struct{}
)

func (d *dialogue) Init() tea.Cmd { return nil }

func (d *dialogue) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case askMsg:
		d.form = huh.NewForm(huh.NewGroup(msg.field)).WithShowHelp(true).WithKeyMap(d.keyMap)
		d.title, d.reply, d.held = msg.title, msg.reply, false
		return d, tea.Batch(d.form.Init(), d.feed())
	case sayMsg:
		return d, tea.Println(string(msg))
	case dropMsg:
		d.form, d.reply, d.held = nil, nil, false
		return d, nil
	case endMsg:
		d.form = nil
		return d, tea.Quit
	case tea.KeyMsg:
		d.typed = append(d.typed, msg)
		return d, d.feed()
	case releaseMsg:
		if d.held && int(msg) == d.holdID {
			d.held = false
			return d, d.feed()
		}
		return d, nil
	}
	if d.form == nil {
		return d, nil
	}
	_, cmd := d.form.Update(msg)
	return d, tea.Batch(cmd, d.settle())
}

// feed gives queued keys to the question until one may end it.
func (d *dialogue) feed() tea.Cmd {
	var cmds []tea.Cmd
	for d.form != nil && !d.held && len(d.typed) > 0 {
		k := d.typed[0]
		d.typed = d.typed[1:]
		_, cmd := d.form.Update(k)
		cmds = append(cmds, cmd)
		if d.form.State != huh.StateNormal { // Ctrl-C
			cmds = append(cmds, d.settle())
			break
		}
		if !key.Matches(k, d.progress...) {
			continue
		}
		if errs := d.form.Errors(); len(errs) > 0 {
			// Refused in place. Said above the form too: with keys typed
			// ahead, the form may never be drawn in this state.
			cmds = append(cmds, tea.Println(d.title+": "+errs[0].Error()))
			continue
		}
		d.held = true
		d.holdID++
		id := d.holdID
		cmds = append(cmds, tea.Tick(holdLimit, func(time.Time) tea.Msg { return releaseMsg(id) }))
	}
	return tea.Batch(cmds...)
}

// settle answers the asker once the form is done, and resumes the queue
// if the form refused the answer after all.
func (d *dialogue) settle() tea.Cmd {
	switch d.form.State {
	case huh.StateCompleted:
		d.reply <- nil
	case huh.StateAborted:
		d.reply <- ErrAborted
	default:
		if d.held && len(d.form.Errors()) > 0 {
			d.held = false
			return d.feed()
		}
		return nil
	}
	// The keys still queued belong to the next question.
	d.form, d.reply, d.held = nil, nil, false
	return nil
}

func (d *dialogue) View() string {
	if d.form == nil {
		return ""
	}
	return d.form.View()
}
