package prompt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func checkName(s string) error {
	if !dnsLabel.MatchString(s) {
		return fmt.Errorf("%q is not a DNS label", s)
	}
	return nil
}

var scopes = []Option{{Value: "instance", Label: "instance"}, {Value: "group", Label: "group"}, {Value: "project", Label: "project"}}

// wizard asks what the tests answer, in order, and returns the answers.
func wizard(t *testing.T, a Asker) []string {
	t.Helper()
	ctx := context.Background()
	var got []string
	name, err := a.Input(ctx, "Runner name", "A DNS label.", "", checkName)
	if err != nil {
		t.Fatalf("Runner name: %v", err)
	}
	got = append(got, name)
	paused, err := a.Confirm(ctx, "Pause the runner?", "", false, nil)
	if err != nil {
		t.Fatalf("Pause: %v", err)
	}
	got = append(got, fmt.Sprint(paused))
	scope, err := a.Select(ctx, "Runner scope", "", scopes, "instance")
	if err != nil {
		t.Fatalf("scope: %v", err)
	}
	got = append(got, scope)
	untagged, err := a.Confirm(ctx, "Run untagged jobs?", "", true, func(b bool) error {
		if !b {
			return errors.New("is false but no tags are set")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("untagged: %v", err)
	}
	got = append(got, fmt.Sprint(untagged))
	ns, err := a.Input(ctx, "Namespace", "", "gitlab-runner", checkName)
	if err != nil {
		t.Fatalf("Namespace: %v", err)
	}
	got = append(got, ns)
	a.Say("will create runner " + name)
	ok, err := a.Confirm(ctx, "Create runner?", "", false, nil)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	got = append(got, fmt.Sprint(ok))
	return got
}

// Everything typed at once, before the first question is shown, as a
// paste or a fast typist does (and a pseudo-terminal test): every key goes
// to its own question, a refused answer is corrected in place (ctrl+h
// erases), and nothing is lost between questions.
func TestTerminalTypeAhead(t *testing.T) {
	typed := "Bad_Name\n" + strings.Repeat("\b", len("Bad_Name")) + "ci\r" + // refused, corrected
		"y" + // a confirmation is answered by y alone
		"\x1b[B\r" + // down to "group", Enter
		"n" + // refused: asked again
		"\r" + // the default, yes
		"\r" + // the namespace's default
		"y"
	var out bytes.Buffer
	h := New(strings.NewReader(typed), &out, false)
	got := wizard(t, h)
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{"ci", "true", "group", "true", "gitlab-runner", "true"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("answers %q, want %q", got, want)
	}
	for _, w := range []string{`Runner name: "Bad_Name" is not a DNS label`, "Run untagged jobs?: is false but no tags are set", "will create runner ci"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the terminal does not show %q:\n%s", w, out.String())
		}
	}
}

func TestTerminalCtrlCAborts(t *testing.T) {
	var out bytes.Buffer
	h := New(strings.NewReader("c\x03i\r"), &out, false)
	_, err := h.Input(context.Background(), "Runner name", "", "", checkName)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v, want ErrAborted", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Accessible mode reads a line per answer; a refused answer is followed by
// its reason and the question again.
func TestAccessible(t *testing.T) {
	in := "Bad_Name\nci\ny\n2\nn\n\n\ny\n"
	var out bytes.Buffer
	h := New(strings.NewReader(in), &out, true)
	got := wizard(t, h)
	want := []string{"ci", "true", "group", "true", "gitlab-runner", "true"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("answers %q, want %q", got, want)
	}
	for _, w := range []string{`Runner name: "Bad_Name" is not a DNS label`, "Run untagged jobs?: is false but no tags are set", "will create runner ci", "A DNS label."} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the output lacks %q:\n%s", w, out.String())
		}
	}
}

// Piped input never makes a question loop: the end of the input, or
// MaxTries refused answers, end it with ErrNoAnswer. An answer that the
// end of the input leaves empty takes the default when it is accepted.
func TestAccessibleBounded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, in string
		want     string
	}{
		{"end of input", "", "the input ended"},
		{"refused until the end", "Bad\n", "the input ended"},
		{"refused for ever", strings.Repeat("Bad\n", 100), fmt.Sprintf("%d answers read", MaxTries)},
		{"empty for ever", strings.Repeat("\n", 100), fmt.Sprintf("%d answers read", MaxTries)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			h := New(strings.NewReader(c.in), &out, true)
			_, err := h.Input(ctx, "ESO store name", "", "", func(s string) error {
				if s == "" {
					return errors.New("is required")
				}
				return checkName(s)
			})
			if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"ESO store name"`) {
				t.Fatalf("err = %v, want ErrNoAnswer naming the question and %q", err, c.want)
			}
		})
	}
	// A number out of range is refused the same way; when the input then
	// ends, the default is the answer.
	h := New(strings.NewReader(strings.Repeat("9\n", 100)), &bytes.Buffer{}, true)
	if _, err := h.Select(ctx, "Runner scope", "", scopes, "instance"); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Select: err = %v, want ErrNoAnswer", err)
	}
	h = New(strings.NewReader("9\n"), &bytes.Buffer{}, true)
	if v, err := h.Select(ctx, "Runner scope", "", scopes, "instance"); err != nil || v != "instance" {
		t.Fatalf("Select = %q, %v; want the default", v, err)
	}
	// At the end of the input, a valid default is the answer.
	h = New(strings.NewReader(""), &bytes.Buffer{}, true)
	if v, err := h.Input(ctx, "Namespace", "", "gitlab-runner", checkName); err != nil || v != "gitlab-runner" {
		t.Fatalf("Input = %q, %v; want the default", v, err)
	}
	if v, err := h.Confirm(ctx, "Create runner?", "", false, nil); err != nil || v {
		t.Fatalf("Confirm = %v, %v; want the default, no", v, err)
	}
}

func TestStatic(t *testing.T) {
	s := &Static{Answers: []string{"Bad_Name", "ci", "y", "group", "n", "", "", "yes"}}
	got := wizard(t, s)
	want := []string{"ci", "true", "group", "true", "gitlab-runner", "true"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("answers %q, want %q", got, want)
	}
	if len(s.Said) != 3 || !strings.Contains(s.Said[0], "Bad_Name") {
		t.Errorf("Said = %q", s.Said)
	}
}
