package cli

// The README and the guides in docs/ are checked here for two kinds of
// rot: relative links (and #anchors) that lead nowhere, and runnerctl
// command lines naming a command or flag the command tree no longer has.
//
// The Markdown is parsed with goldmark (test-only: the binary does not link
// it); the checks walk its syntax tree: links and images, code blocks and
// spans, headings. Anchors follow GitHub's rules: the heading's text without
// Markdown syntax, lower-cased, characters other than letters, marks,
// digits, connector punctuation, spaces and hyphens dropped, spaces turned
// into hyphens, and -1, -2, ... appended to repeats.

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// docsRootCmd builds the command tree that command lines in the docs are
// checked against. It is the only call of newRootCmd in this file: if that
// signature changes, this is the one line to fix.
func docsRootCmd() *cobra.Command {
	return newRootCmd(&factory{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
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
			name:  "no links in code or comments; setext headings", // the scan got these wrong
			files: map[string]string{"README.md": "Tool\n====\n\n[up](#tool)\n\n```md\n[x](gone.md)\n```\n\n    [x](gone.md)\n\n<!-- [x](gone.md) -->\n\n`[x](gone.md)`\n"},
		},
		{
			name:  "broken link spanning lines",
			files: map[string]string{"README.md": "# Tool\n\nSee [the\nguide](docs/gone.md).\n"},
			want:  `README.md:3: link "docs/gone.md": docs/gone.md does not exist`,
		},
		{
			name:  "broken link in angle brackets", // the scan missed it
			files: map[string]string{"README.md": "# Tool\n\nSee [the guide](<docs/the guide.md>).\n"},
			want:  `README.md:3: link "docs/the guide.md": docs/the guide.md does not exist`,
		},
		{
			name:  "broken reference link",
			files: map[string]string{"README.md": "# Tool\n\nSee [the guide][g].\n\n[g]: docs/gone.md\n"},
			want:  `README.md:3: link "docs/gone.md": docs/gone.md does not exist`,
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
			name:  "unknown flag in an indented code block", // the scan missed it
			files: map[string]string{"README.md": "# Tool\n\nRun\n\n    runnerctl render --chekc\n"},
			want:  `README.md:5: runnerctl render: unknown flag --chekc`,
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

// mdDoc is a Markdown file parsed as GitHub renders it: CommonMark and
// GitHub's extensions (tables, autolinks, ...).
type mdDoc struct {
	src  []byte
	root ast.Node
}

var mdParser = goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()

func parseMarkdown(path string) (mdDoc, error) {
	src, err := os.ReadFile(path)
	return mdDoc{src, mdParser.Parse(text.NewReader(src))}, err
}

// line is the 1-based line of a byte offset. goldmark records the start
// offset of every node (Pos), inline ones included, so a link or code span
// is reported at its own line, not its paragraph's first.
func (md mdDoc) line(off int) int { return bytes.Count(md.src[:off], []byte("\n")) + 1 }

// walk calls f on n and every node under it.
func walk(n ast.Node, f func(ast.Node)) {
	_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			f(n)
		}
		return ast.WalkContinue, nil
	})
}

// inlineText is the text of n without markup or raw HTML (code spans'
// text included), line breaks turned into spaces.
func inlineText(n ast.Node, src []byte) string {
	var b strings.Builder
	walk(n, func(n ast.Node) {
		if t, ok := n.(*ast.Text); ok {
			b.Write(t.Value(src))
			if t.SoftLineBreak() {
				b.WriteByte(' ')
			}
		}
	})
	return strings.ReplaceAll(b.String(), "\n", " ")
}

// headingSlug is GitHub's anchor for a heading's text (see the top of this
// file). It is the one piece no library here provides: goldmark's auto
// heading IDs are not GitHub's (they drop non-ASCII letters, "_" becomes "-").
func headingSlug(text string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ':
			return '-'
		case r == '-' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.Is(unicode.Pc, r):
			return r
		}
		return -1 // dropped
	}, strings.ToLower(text))
}

// htmlIDRE finds an anchor defined in raw HTML, which Markdown leaves as is.
var htmlIDRE = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)

// anchors returns the anchors a Markdown file defines: one per heading
// (repeats numbered as GitHub does) and any <a name/id="..."> in its HTML.
func anchors(md mdDoc) map[string]bool {
	set := map[string]bool{}
	seen := map[string]int{}
	walk(md.root, func(n ast.Node) {
		var html []byte
		switch n := n.(type) {
		case *ast.Heading:
			slug := headingSlug(inlineText(n, md.src))
			set[strings.TrimSuffix(fmt.Sprintf("%s-%d", slug, seen[slug]), "-0")] = true // slug, slug-1, ...
			seen[slug]++
		case *ast.RawHTML:
			html = n.Segments.Value(md.src)
		case *ast.HTMLBlock:
			html = n.Lines().Value(md.src)
		}
		for _, m := range htmlIDRE.FindAllSubmatch(html, -1) {
			set[string(m[1])] = true
		}
	})
	return set
}

// checkDocLinks reports every relative link or image of a Markdown file
// (a reference link as goldmark resolves it, where it is used) whose file
// does not exist or whose #anchor is no heading there. It returns the
// number of relative links checked.
func checkDocLinks(path string) (problems []string, checked int) {
	md, err := parseMarkdown(path)
	if err != nil {
		return []string{err.Error()}, 0
	}
	anchorCache := map[string]map[string]bool{}
	walk(md.root, func(n ast.Node) {
		var dest string
		switch l := n.(type) {
		case *ast.Link:
			dest = string(l.Destination)
		case *ast.Image:
			dest = string(l.Destination)
		default:
			return
		}
		if u, err := url.Parse(dest); dest == "" || err == nil && (u.Scheme != "" || u.Host != "") {
			return // empty, or absolute (https:, mailto:, //host): not ours to check offline
		}
		checked++
		problem := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s:%d: link %q: ", path, md.line(n.Pos()), dest)+fmt.Sprintf(format, args...))
		}
		file, anchor, _ := strings.Cut(dest, "#")
		target := path
		if file != "" {
			target = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
			if _, err := os.Stat(target); err != nil {
				problem("%s does not exist", file)
				return
			}
		}
		if anchor == "" {
			return
		}
		if !strings.HasSuffix(target, ".md") {
			problem("an anchor into %s, which is not Markdown", file)
			return
		}
		set, ok := anchorCache[target]
		if !ok {
			tmd, err := parseMarkdown(target)
			if err != nil {
				problem("%v", err)
				return
			}
			set = anchors(tmd)
			anchorCache[target] = set
		}
		if !set[anchor] {
			problem("no heading in %s has the anchor #%s", cmp.Or(file, filepath.Base(path)), anchor)
		}
	})
	return problems, checked
}

type numberedLine struct {
	n    int // 1-based
	text string
}

// checkDocCommands reports every runnerctl command line, in a code block
// (fenced or indented) or an inline code span (there also without
// "runnerctl" when it starts with a command's name and has a flag:
// `render --check`), that names a command the tree lacks or a flag its
// command lacks (its own, inherited or global; --help and, on the root,
// --version count). It returns the number of command lines checked.
func checkDocCommands(root *cobra.Command, path string) (problems []string, checked int) {
	md, err := parseMarkdown(path)
	if err != nil {
		return []string{err.Error()}, 0
	}
	var lines []numberedLine
	walk(md.root, func(n ast.Node) {
		switch n.(type) {
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			// The block's lines, "\"-continued ones joined to the line they continue.
			for i, segs := 0, n.Lines(); i < segs.Len(); i++ {
				seg := segs.At(i)
				l := numberedLine{md.line(seg.Start), strings.TrimRight(string(seg.Value(md.src)), "\r\n")}
				for strings.HasSuffix(strings.TrimRight(l.text, " "), `\`) && i+1 < segs.Len() {
					i++
					seg = segs.At(i)
					l.text = strings.TrimSuffix(strings.TrimRight(l.text, " "), `\`) + " " + strings.TrimRight(string(seg.Value(md.src)), "\r\n")
				}
				lines = append(lines, l)
			}
		case *ast.CodeSpan:
			// Inline code, where "rotate-token --all" stands for a runnerctl
			// command line too when it starts with a command's name and
			// carries a flag.
			span := numberedLine{md.line(n.Pos()), inlineText(n, md.src)}
			if fields := strings.Fields(span.text); len(fields) > 1 && findSubcommand(root, fields[0]) != nil &&
				slices.ContainsFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "-") }) {
				span.text = "runnerctl " + span.text
			}
			lines = append(lines, span)
		}
	})
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
