package cli

// The README and the guides in docs/ are checked here for two kinds of
// rot: relative links (and #anchors) that lead nowhere, and runnerctl
// command lines naming a command or flag the command tree no longer has.
//
// No Markdown library is in go.mod (goldmark appears in `go list -m all`
// only as a dependency of a dependency), so this is a careful line-based
// scan rather than a parse: fenced code blocks (``` or ~~~) are found line
// by line, inline code spans and inline links by regular expressions over
// the rest, headings are ATX headings (# ...) outside fences (setext
// headings are not recognised; these docs use none). Anchors follow
// GitHub's rules: the heading's text without Markdown syntax, lower-cased,
// characters other than letters, marks, digits, connector punctuation,
// spaces and hyphens dropped, spaces turned into hyphens, and -1, -2, ...
// appended to repeats.

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
)

// docsRootCmd builds the command tree that command lines in the docs are
// checked against. It is the only call of newRootCmd in this file: if that
// signature changes, this is the one line to fix.
func docsRootCmd() *cobra.Command {
	return newRootCmd(env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
}

// docsCommandTree is the tree as runnerctl executes it: cobra adds its help
// command only when executing.
func docsCommandTree() *cobra.Command {
	root := docsRootCmd()
	root.InitDefaultHelpCmd()
	return root
}

// TestDocsLinks checks every relative link and anchor in README.md and
// docs/**/*.md (the generated docs/cli pages included), and every runnerctl
// command line in code of README.md and docs/*.md (not the generated
// docs/cli and docs/man, which are made from the tree itself).
func TestDocsLinks(t *testing.T) {
	const repo = "../.."
	linkFiles := []string{filepath.Join(repo, "README.md")}
	err := filepath.WalkDir(filepath.Join(repo, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			linkFiles = append(linkFiles, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cmdFiles, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmdFiles = append(cmdFiles, filepath.Join(repo, "README.md"))
	if len(cmdFiles) < 10 {
		t.Fatalf("found only %d guides: %q", len(cmdFiles), cmdFiles)
	}

	root := docsCommandTree()
	var links, commands int
	for _, f := range linkFiles {
		problems, n := checkDocLinks(f)
		links += n
		for _, p := range problems {
			t.Error(p)
		}
		if slices.Contains(cmdFiles, f) {
			problems, n := checkDocCommands(root, f)
			commands += n
			for _, p := range problems {
				t.Error(p)
			}
		}
	}
	// A scan that silently finds nothing would pass anything.
	if links < 50 || commands < 50 {
		t.Errorf("found only %d relative links and %d runnerctl command lines in the docs", links, commands)
	}
	t.Logf("%d files, %d relative links, %d runnerctl command lines checked", len(linkFiles), links, commands)
}

// TestDocsCheckerCatches plants each kind of rot in a small repository and
// shows that the checker reports it, and that a clean page passes.
func TestDocsCheckerCatches(t *testing.T) {
	root := docsCommandTree()
	for _, tc := range []struct {
		name  string
		files map[string]string // the planted repository; README.md is checked
		want  string            // a substring of the one problem expected; "" for none
	}{
		{
			name: "clean",
			files: map[string]string{
				"README.md": "# Tool\n\nSee [the guide](docs/guide.md#to-do-it-well-init), [top](#tool) and [again](#tool-1).\n\n## Tool\n\n" +
					"```sh\nrunnerctl render --check --config x.yaml   # a comment --nosuch\nrunnerctl profiles show restricted -o json\n" +
					"runnerctl init --name ci \\\n  --backend vault\n```\n\nAlso `runnerctl rotate-token --all --if-expires-within 720h` and `runnerctl --help`.\n",
				"docs/guide.md": "# Guide\n\n## To do it *well*: `init`?\n\nBack to the [README](../README.md).\n",
			},
		},
		{
			name:  "broken link",
			files: map[string]string{"README.md": "# Tool\n\nSee [the guide](docs/gone.md).\n"},
			want:  `README.md:3: link "docs/gone.md": docs/gone.md does not exist`,
		},
		{
			name:  "broken link spanning lines",
			files: map[string]string{"README.md": "# Tool\n\nSee [the\nguide](docs/gone.md).\n"},
			want:  `README.md:4: link "docs/gone.md": docs/gone.md does not exist`,
		},
		{
			name: "missing anchor in another file",
			files: map[string]string{
				"README.md":     "# Tool\n\nSee [the guide](docs/guide.md#to-do-it).\n",
				"docs/guide.md": "# Guide\n\n## To do it well\n",
			},
			want: `README.md:3: link "docs/guide.md#to-do-it": no heading in docs/guide.md has the anchor #to-do-it`,
		},
		{
			name:  "missing anchor in the same file",
			files: map[string]string{"README.md": "# Tool\n\n[up](#tools)\n\n```sh\n# tools\n```\n"},
			want:  `README.md:3: link "#tools": no heading in README.md has the anchor #tools`,
		},
		{
			name:  "unknown command in a code block",
			files: map[string]string{"README.md": "# Tool\n\n```sh\nexport X=1\nrunnerctl rendre --check\n```\n"},
			want:  `README.md:5: runnerctl rendre: unknown command "rendre"`,
		},
		{
			name:  "unknown subcommand in inline code",
			files: map[string]string{"README.md": "# Tool\n\nRun `runnerctl profiles shwo restricted`.\n"},
			want:  `README.md:3: runnerctl profiles shwo: unknown command "shwo"`,
		},
		{
			name:  "unknown flag in a code block",
			files: map[string]string{"README.md": "# Tool\n\n```\n$ runnerctl render --chekc\n```\n"},
			want:  `README.md:4: runnerctl render: unknown flag --chekc`,
		},
		{
			name:  "unknown flag after a line continuation",
			files: map[string]string{"README.md": "# Tool\n\n```sh\nrunnerctl init --name ci \\\n  --backnd vault\n```\n"},
			want:  `README.md:4: runnerctl init: unknown flag --backnd`,
		},
		{
			name:  "unknown flag in inline code across a line break",
			files: map[string]string{"README.md": "# Tool\n\nRun `runnerctl rotate-token --all\n--if-expires 720h` weekly.\n"},
			want:  `README.md:3: runnerctl rotate-token: unknown flag --if-expires`,
		},
		{
			name:  "a flag of another command",
			files: map[string]string{"README.md": "# Tool\n\n`runnerctl render --if-expires-within 720h`\n"},
			want:  `README.md:3: runnerctl render: unknown flag --if-expires-within`,
		},
		{
			name:  "unknown flag in inline code without runnerctl",
			files: map[string]string{"README.md": "# Tool\n\nSchedule `rotate-token --all --if-expired`, then `render --check`.\n"},
			want:  `README.md:3: runnerctl rotate-token: unknown flag --if-expired`,
		},
		{
			name:  "unknown shorthand",
			files: map[string]string{"README.md": "# Tool\n\n`runnerctl status -z`\n"},
			want:  `README.md:3: runnerctl status: unknown flag -z`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var problems []string
			for name := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				linkProblems, _ := checkDocLinks(p)
				cmdProblems, _ := checkDocCommands(root, p)
				problems = append(problems, linkProblems...)
				problems = append(problems, cmdProblems...)
			}
			for i := range problems {
				problems[i] = strings.ReplaceAll(problems[i], dir+string(filepath.Separator), "")
				problems[i] = filepath.ToSlash(problems[i])
			}
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("a clean page was reported:\n  %s", strings.Join(problems, "\n  "))
			case tc.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tc.want)):
				t.Errorf("want one problem containing\n  %s\ngot %d:\n  %s", tc.want, len(problems), strings.Join(problems, "\n  "))
			}
		})
	}
}

// mdText is a Markdown file split into what the checks need. code holds
// the text with fenced blocks blanked (newlines kept, so offsets still map
// to lines); fences holds the fenced blocks' lines with their line numbers.
type mdText struct {
	path  string
	prose string
	fence []numberedLine
}

type numberedLine struct {
	n    int // 1-based
	text string
}

func readMarkdown(path string) (mdText, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return mdText{}, err
	}
	md := mdText{path: path}
	lines := strings.Split(string(data), "\n")
	var fenceMark string // "```" or "~~~" (and longer) while inside a fence
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case fenceMark == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fenceMark = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, trimmed[:1]))]
			lines[i] = ""
		case fenceMark != "":
			if strings.HasPrefix(trimmed, fenceMark) && strings.Trim(trimmed, fenceMark[:1]+" ") == "" {
				fenceMark = ""
			} else {
				md.fence = append(md.fence, numberedLine{i + 1, l})
			}
			lines[i] = ""
		}
	}
	md.prose = strings.Join(lines, "\n")
	return md, nil
}

// lineAt is the 1-based line of a byte offset in s.
func lineAt(s string, off int) int { return strings.Count(s[:off], "\n") + 1 }

var (
	// An inline code span: a run of backticks, then anything up to the
	// same run. Spans may continue over a line break within a paragraph.
	codeSpanRE = regexp.MustCompile("(`+)([^`]+?)(`+)")
	// An inline link or image: [text](target "title"); text may hold one
	// level of brackets and line breaks.
	linkRE = regexp.MustCompile(`\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^()\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// A reference definition: [label]: target
	refDefRE  = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	headingRE = regexp.MustCompile(`(?m)^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$`)
	htmlIDRE  = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	schemeRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// codeSpans returns the inline code spans of prose, each with the line it
// starts on and its text with line breaks turned into spaces.
func codeSpans(prose string) []numberedLine {
	var spans []numberedLine
	for _, m := range codeSpanRE.FindAllStringSubmatchIndex(prose, -1) {
		if prose[m[2]:m[3]] != prose[m[6]:m[7]] {
			continue // unbalanced runs of backticks; not a span this scan understands
		}
		spans = append(spans, numberedLine{lineAt(prose, m[0]), strings.ReplaceAll(prose[m[4]:m[5]], "\n", " ")})
	}
	return spans
}

// withoutCode blanks the inside of inline code spans (keeping the
// backticks and newlines), so that brackets in code are not taken for links
// while a link whose text is code still is one.
func withoutCode(prose string) string {
	return codeSpanRE.ReplaceAllStringFunc(prose, func(span string) string {
		return strings.Map(func(r rune) rune {
			if r == '`' || r == '\n' {
				return r
			}
			return 'x'
		}, span)
	})
}

// headingSlug is GitHub's anchor for a heading's text.
func headingSlug(text string) string {
	text = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1") // links: their text
	text = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(text, "")                   // inline HTML
	text = strings.NewReplacer("`", "", "*", "").Replace(text)                        // code and emphasis marks
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.Is(unicode.Pc, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors a Markdown file defines: one per heading
// (repeats numbered as GitHub does) and any <a name/id="...">.
func anchors(md mdText) map[string]bool {
	set := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(md.prose, -1) {
		slug := headingSlug(m[2])
		if n := seen[slug]; n > 0 {
			set[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			set[slug] = true
		}
		seen[slug]++
	}
	for _, m := range htmlIDRE.FindAllStringSubmatch(md.prose, -1) {
		set[m[1]] = true
	}
	return set
}

// checkDocLinks reports every relative link of a Markdown file whose file
// does not exist or whose #anchor is no heading there. It returns the
// number of relative links checked.
func checkDocLinks(path string) (problems []string, checked int) {
	md, err := readMarkdown(path)
	if err != nil {
		return []string{err.Error()}, 0
	}
	prose := withoutCode(md.prose)
	type link struct {
		line   int
		target string
	}
	var links []link
	for _, m := range linkRE.FindAllStringSubmatchIndex(prose, -1) {
		links = append(links, link{lineAt(prose, m[4]), prose[m[4]:m[5]]})
	}
	for _, m := range refDefRE.FindAllStringSubmatchIndex(prose, -1) {
		links = append(links, link{lineAt(prose, m[2]), prose[m[2]:m[3]]})
	}
	anchorCache := map[string]map[string]bool{}
	for _, l := range links {
		if l.target == "" || schemeRE.MatchString(l.target) || strings.HasPrefix(l.target, "//") {
			continue // empty, or absolute (https:, mailto:): not ours to check offline
		}
		checked++
		file, anchor, _ := strings.Cut(l.target, "#")
		target := path
		if file != "" {
			target = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
			if _, err := os.Stat(target); err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: link %q: %s does not exist", path, l.line, l.target, file))
				continue
			}
		}
		if anchor == "" {
			continue
		}
		if !strings.HasSuffix(target, ".md") {
			problems = append(problems, fmt.Sprintf("%s:%d: link %q: an anchor into %s, which is not Markdown", path, l.line, l.target, file))
			continue
		}
		set, ok := anchorCache[target]
		if !ok {
			tmd, err := readMarkdown(target)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: link %q: %v", path, l.line, l.target, err))
				continue
			}
			set = anchors(tmd)
			anchorCache[target] = set
		}
		if !set[anchor] {
			name := file
			if name == "" {
				name = filepath.Base(path)
			}
			problems = append(problems, fmt.Sprintf("%s:%d: link %q: no heading in %s has the anchor #%s", path, l.line, l.target, name, anchor))
		}
	}
	return problems, checked
}

// checkDocCommands reports every runnerctl command line, in a fenced block
// or an inline code span (there also without "runnerctl" when it starts
// with a command's name and has a flag: `render --check`), that names a command the tree lacks or a flag
// its command lacks (its own, inherited or global; --help and, on the root,
// --version count). It returns the number of command lines checked.
func checkDocCommands(root *cobra.Command, path string) (problems []string, checked int) {
	md, err := readMarkdown(path)
	if err != nil {
		return []string{err.Error()}, 0
	}
	var lines []numberedLine
	// Fenced lines, with "\"-continued lines joined to the line they continue.
	for i := 0; i < len(md.fence); i++ {
		l := md.fence[i]
		for strings.HasSuffix(strings.TrimRight(l.text, " "), `\`) && i+1 < len(md.fence) && md.fence[i+1].n == md.fence[i].n+1 {
			i++
			l.text = strings.TrimSuffix(strings.TrimRight(l.text, " "), `\`) + " " + md.fence[i].text
		}
		lines = append(lines, l)
	}
	// Inline code, where "rotate-token --all" stands for a runnerctl command
	// line too when it starts with a command's name and carries a flag.
	for _, span := range codeSpans(md.prose) {
		if fields := strings.Fields(span.text); len(fields) > 1 && findSubcommand(root, fields[0]) != nil &&
			slices.ContainsFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "-") }) {
			span.text = "runnerctl " + span.text
		}
		lines = append(lines, span)
	}
	for _, l := range lines {
		fields := strings.Fields(l.text)
		for i, f := range fields {
			if strings.HasPrefix(f, "#") {
				fields = fields[:i] // a comment (or a heading in a Markdown example)
				break
			}
		}
		for i, f := range fields {
			// runnerctl, or a path to it ("$(go env GOPATH)/bin/runnerctl", ./cmd/runnerctl)
			if f = strings.Trim(f, `$("'<)`); f != "runnerctl" && !strings.HasSuffix(f, "/runnerctl") {
				continue
			}
			checked++
			if p := checkDocCommandLine(root, fields[i+1:]); p != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s", path, l.n, p))
			}
		}
	}
	return problems, checked
}

var (
	commandWordRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	longFlagRE    = regexp.MustCompile(`--([a-zA-Z0-9][a-zA-Z0-9-]*)`)
	shortFlagRE   = regexp.MustCompile(`^-([a-zA-Z])$`)
)

// checkDocCommandLine checks the words after "runnerctl" up to the end of
// the shell command (a comment, pipe, redirection, ; or &&). Command words
// are followed down the tree while they name subcommands; a word that does
// not, where the command has subcommands (the root, "profiles"), is an
// unknown command. Every --flag and -x after that must
// exist for the command reached. Placeholders and expansions ($VAR, NAME,
// "...") are skipped.
func checkDocCommandLine(root *cobra.Command, args []string) string {
	var end int
	for end = 0; end < len(args); end++ {
		a := args[end]
		if strings.HasPrefix(a, "#") || strings.ContainsAny(a, "|;&<>") {
			break
		}
	}
	args = args[:end]
	cmd, path := root, "runnerctl"
	i := 0
	for ; i < len(args); i++ {
		word := strings.Trim(args[i], `"'`)
		if !commandWordRE.MatchString(word) {
			break
		}
		sub := findSubcommand(cmd, word)
		if sub == nil {
			if cmd.HasSubCommands() { // no group takes arguments
				return fmt.Sprintf("%s %s: unknown command %q", path, word, word)
			}
			break // an argument, such as a runner's name
		}
		cmd, path = sub, path+" "+word
	}
	cmd.InitDefaultHelpFlag()
	if cmd == root {
		cmd.InitDefaultVersionFlag()
	}
	for _, a := range args[i:] {
		a = strings.Trim(a, "\"'[]()`,.")
		if strings.HasPrefix(a, "--") {
			for _, m := range longFlagRE.FindAllStringSubmatch(a, -1) {
				if cmd.Flags().Lookup(m[1]) == nil && cmd.PersistentFlags().Lookup(m[1]) == nil && cmd.InheritedFlags().Lookup(m[1]) == nil {
					return fmt.Sprintf("%s: unknown flag --%s", path, m[1])
				}
			}
		} else if m := shortFlagRE.FindStringSubmatch(a); m != nil {
			if cmd.Flags().ShorthandLookup(m[1]) == nil && cmd.PersistentFlags().ShorthandLookup(m[1]) == nil && cmd.InheritedFlags().ShorthandLookup(m[1]) == nil {
				return fmt.Sprintf("%s: unknown flag -%s", path, m[1])
			}
		}
	}
	return ""
}

// findSubcommand is cmd's subcommand called name (or one of its aliases).
func findSubcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}
