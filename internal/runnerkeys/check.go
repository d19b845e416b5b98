package runnerkeys

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Issue is one finding of Check, located by its TOML line and key path.
type Issue struct {
	// Warning is true for what works but deserves a look (a deprecated
	// flag, keys runnerctl cannot check); false is an error.
	Warning bool
	// Key is the dotted key path, such as runners.kubernetes.privileged.
	Key string
	// Line is the 1-based line in the TOML text, 0 when unknown.
	Line int
	// Msg is the whole message, key and line included.
	Msg string
}

// Check reads runners.config TOML (after the chart's tpl) and reports each
// key runner version r does not know, each value of a type it cannot
// decode, and each feature flag it does not know, in document order.
func (r *Runner) Check(text string) []Issue {
	var m map[string]any
	if err := toml.Unmarshal([]byte(text), &m); err != nil {
		return []Issue{decodeIssue(err)}
	}
	c := &checker{r: r, reported: map[string]bool{}, opened: map[string]bool{}, lines: []int{0}}
	for i := range len(text) {
		if text[i] == '\n' {
			c.lines = append(c.lines, i+1)
		}
	}
	p := unstable.Parser{}
	p.Reset([]byte(text))
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			parts, line := c.key(&it)
			c.header(parts, e.Kind == unstable.ArrayTable, line)
			table = parts
		case unstable.KeyValue:
			c.keyValue(table, e)
		}
	}
	if err := p.Error(); err != nil {
		// toml.Unmarshal accepted the text, so the parser should too.
		return []Issue{decodeIssue(err)}
	}
	return c.issues
}

func decodeIssue(err error) Issue {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		if key := displayKey(de.Key()); key != "" {
			return Issue{Key: key, Line: row, Msg: fmt.Sprintf("key %q (TOML line %d): %s", key, row, de.Error())}
		}
		return Issue{Line: row, Msg: fmt.Sprintf("TOML line %d: %s", row, de.Error())}
	}
	return Issue{Msg: "not valid TOML: " + err.Error()}
}

type checker struct {
	r *Runner
	// lines holds the offset of each line's start, to turn offsets into
	// line numbers without rescanning the text for each key.
	lines  []int
	issues []Issue
	// reported holds the keys already reported, so that nothing below them
	// is reported again.
	reported map[string]bool
	// opened holds the arrays of tables that a [[...]] header started.
	opened map[string]bool
	// kids caches the names below a key, for suggestions.
	kids map[string][]string
}

func (c *checker) children(path string) []string {
	if k, ok := c.kids[path]; ok {
		return k
	}
	if c.kids == nil {
		c.kids = map[string][]string{}
	}
	c.kids[path] = c.r.children(path)
	return c.kids[path]
}

// key reads a (possibly dotted) key and the line it is on.
func (c *checker) key(it *unstable.Iterator) ([]string, int) {
	var parts []string
	line := 0
	for it.Next() {
		n := it.Node()
		if line == 0 {
			off := int(n.Raw.Offset)
			line, _ = slices.BinarySearch(c.lines, off+1)
		}
		parts = append(parts, string(n.Data))
	}
	return parts, line
}

func (c *checker) add(warning bool, parts []string, line int, format string, args ...any) {
	key := displayKey(parts)
	c.issues = append(c.issues, Issue{Warning: warning, Key: key, Line: line,
		Msg: fmt.Sprintf("key %q (TOML line %d)", key, line) + fmt.Sprintf(format, args...)})
}

func (c *checker) header(parts []string, array bool, line int) {
	typ, ok := c.resolve(parts, line)
	if !ok {
		return
	}
	path := strings.Join(parts, ".")
	switch {
	case typ == tAny:
	case array && typ == tTables:
		c.opened[path] = true
	case array:
		c.typeError(parts, line, "an array of tables", typ)
	case typ == tTable || typ == tOpaque || strings.HasPrefix(typ, "map:"):
	default:
		c.typeError(parts, line, "a table", typ)
	}
}

func (c *checker) keyValue(prefix []string, kv *unstable.Node) {
	it := kv.Key()
	rel, line := c.key(&it)
	parts := append(slices.Clone(prefix), rel...)
	typ, ok := c.resolve(parts, line)
	if !ok {
		return
	}
	c.value(parts, line, typ, kv.Value())
}

// resolve finds the type of the key at parts, reporting the first part
// that is unknown or cannot hold keys. ok is false when nothing more is
// to be checked there.
func (c *checker) resolve(parts []string, line int) (typ string, ok bool) {
	typ = "root"
	for i := range parts {
		here := parts[:i+1]
		path := strings.Join(here, ".")
		if c.reported[path] {
			return "", false
		}
		parent := strings.Join(parts[:i], ".")
		switch {
		case typ == tAny:
			return tAny, true
		case strings.HasPrefix(typ, "map:"):
			// Any name; the value has the map's element type.
			if parent == "runners.feature_flags" && !c.flag(here, line) {
				return "", false
			}
			typ = strings.TrimPrefix(typ, "map:")
		case typ == "root" || typ == tTable || typ == tTables || typ == tOpaque:
			if typ == tTables && !c.opened[parent] {
				c.reported[parent] = true
				c.add(false, parts[:i], line, ": gitlab-runner %s expects an array of tables here: start it with a [[%s]] header", c.r.Version, displayKey(parts[:i]))
				return "", false
			}
			t, known := c.r.typeOf(path)
			if !known {
				if typ == tOpaque {
					c.unchecked(parts[:i], line)
					return "", false
				}
				if t, ok := c.caseFold(here, line); ok {
					typ = t
					continue
				}
				c.unknown(here, line, typ == "root")
				return "", false
			}
			typ = t
		default:
			c.reported[parent] = true
			c.add(false, parts[:i], line, " is %s in gitlab-runner %s, so it cannot hold %q", describe(typ), c.r.Version, parts[i])
			return "", false
		}
	}
	return typ, true
}

// caseFold accepts a key that differs from a known one only in case, as
// BurntSushi/toml (the runner's decoder) does, with a warning.
func (c *checker) caseFold(parts []string, line int) (string, bool) {
	name := parts[len(parts)-1]
	parent := strings.Join(parts[:len(parts)-1], ".")
	for _, k := range c.children(parent) {
		if strings.EqualFold(k, name) {
			typ, _ := c.r.typeOf(parent + "." + k)
			c.add(true, parts, line, ": gitlab-runner %s spells it %q; it matches keys regardless of case, so this works, but write it as the runner does", c.r.Version, k)
			return typ, true
		}
	}
	return "", false
}

func (c *checker) unknown(parts []string, line int, root bool) {
	path := strings.Join(parts, ".")
	c.reported[path] = true
	key := displayKey(parts)
	if root {
		c.issues = append(c.issues, Issue{Key: key, Line: line, Msg: fmt.Sprintf(
			"key %q (TOML line %d) is outside [[runners]]: the chart registers the runner with runners.config as a template and takes only its [[runners]] entry",
			key, line)})
		return
	}
	msg := fmt.Sprintf("unknown key %q (TOML line %d): gitlab-runner %s does not know it and would silently ignore it", key, line, c.r.Version)
	if s := suggest(parts[len(parts)-1], c.children(strings.Join(parts[:len(parts)-1], "."))); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if vs := c.r.otherVersions(path); len(vs) > 0 {
		msg += fmt.Sprintf(" (gitlab-runner %s knows it: set chart.runnerVersion if that is the runner you deploy)", strings.Join(vs, ", "))
	}
	c.issues = append(c.issues, Issue{Key: key, Line: line, Msg: msg})
}

// unchecked reports, once per table, keys below a table whose keys are
// defined outside the sources runnerctl reads.
func (c *checker) unchecked(table []string, line int) {
	path := strings.Join(table, ".")
	if c.reported[path] {
		return
	}
	c.reported[path] = true
	key := displayKey(table)
	c.issues = append(c.issues, Issue{Warning: true, Key: key, Line: line, Msg: fmt.Sprintf(
		"keys under %q (TOML line %d) are not checked: gitlab-runner %s defines them outside common/config.go, which runnerctl takes its facts from",
		key, line, c.r.Version)})
}

// flag checks the name of a feature flag; false when it is unknown.
func (c *checker) flag(parts []string, line int) bool {
	name := parts[len(parts)-1]
	f, ok := c.r.flag(name)
	if !ok || f.mask&c.r.bit == 0 {
		path := strings.Join(parts, ".")
		c.reported[path] = true
		msg := fmt.Sprintf("unknown feature flag %q (TOML line %d): gitlab-runner %s does not know it and would silently ignore it", name, line, c.r.Version)
		if s := suggest(name, c.r.flagNames()); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		if ok {
			msg += fmt.Sprintf(" (gitlab-runner %s knows it)", strings.Join(versionsOf(f.mask), ", "))
		}
		c.issues = append(c.issues, Issue{Key: displayKey(parts), Line: line, Msg: msg})
		return false
	}
	if f.deprecated&c.r.bit != 0 {
		c.issues = append(c.issues, Issue{Warning: true, Key: displayKey(parts), Line: line, Msg: fmt.Sprintf(
			"feature flag %q (TOML line %d) is deprecated in gitlab-runner %s", name, line, c.r.Version)})
	}
	return true
}

func versionsOf(mask uint8) []string {
	var out []string
	for i, v := range tableVersions {
		if mask&(1<<i) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// value checks a value of type typ at parts.
func (c *checker) value(parts []string, line int, typ string, v *unstable.Node) {
	if typ == tAny {
		return
	}
	ok := false
	switch v.Kind {
	case unstable.String:
		switch typ {
		case tString, tDatetime, tStringOrArr:
			ok = true
		case tDuration:
			if _, err := time.ParseDuration(string(v.Data)); err != nil {
				c.add(false, parts, line, ": %q is not a duration gitlab-runner %s can read (such as \"90s\" or \"1h30m\"): the runner would fail to start", v.Data, c.r.Version)
				return
			}
			ok = true
		}
	case unstable.Bool:
		ok = typ == tBool
	case unstable.Integer:
		ok = typ == tInt || typ == tFloat || typ == tDuration
	case unstable.Float:
		ok = typ == tFloat
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		ok = typ == tDatetime
	case unstable.Array:
		elem, isList := strings.CutPrefix(typ, "list:")
		switch {
		case isList || typ == tStringOrArr:
			if typ == tStringOrArr {
				elem = tString
			}
			it := v.Children()
			for it.Next() {
				if !c.element(parts, line, elem, it.Node()) {
					return
				}
			}
			return
		case typ == tTables:
			it := v.Children()
			for it.Next() {
				n := it.Node()
				if n.Kind != unstable.InlineTable {
					c.typeError(parts, line, "an array of "+kindOf(n), typ)
					return
				}
				c.inline(parts, n)
			}
			return
		}
	case unstable.InlineTable:
		if typ == tTable || typ == tOpaque || strings.HasPrefix(typ, "map:") {
			c.inline(parts, v)
			return
		}
	}
	if !ok {
		c.typeError(parts, line, kindOf(v), typ)
	}
}

// element checks one element of an array of scalars; false after a
// problem, so that an array is reported once.
func (c *checker) element(parts []string, line int, elem string, n *unstable.Node) bool {
	before := len(c.issues)
	probe := &checker{r: c.r, lines: c.lines, reported: map[string]bool{}, opened: map[string]bool{}}
	probe.value(parts, line, elem, n)
	if len(probe.issues) > 0 {
		c.typeError(parts, line, "an array holding "+kindOf(n), "list:"+elem)
	}
	return len(c.issues) == before
}

// inline checks the keys of an inline table at parts.
func (c *checker) inline(parts []string, t *unstable.Node) {
	// An inline table is complete: arrays of tables in it need no header.
	c.openAll(parts)
	it := t.Children()
	for it.Next() {
		c.keyValue(parts, it.Node())
	}
}

func (c *checker) openAll(parts []string) {
	for i := range parts {
		c.opened[strings.Join(parts[:i+1], ".")] = true
	}
}

func (c *checker) typeError(parts []string, line int, got, want string) {
	c.reported[strings.Join(parts, ".")] = true
	c.add(false, parts, line, " is %s, but gitlab-runner %s expects %s: the runner would fail to start", got, c.r.Version, describe(want))
}

// kindOf names the kind of a TOML value, with its article.
func kindOf(n *unstable.Node) string {
	switch n.Kind {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "a boolean"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date-time"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	}
	return "a " + strings.ToLower(n.Kind.String())
}

// describe names a type of the table for messages.
func describe(typ string) string {
	switch typ {
	case tString:
		return "a string"
	case tBool:
		return "a boolean (true or false)"
	case tInt:
		return "an integer"
	case tFloat:
		return "a number"
	case tDuration:
		return "a duration (a string such as \"1h30m\", or an integer of nanoseconds)"
	case tDatetime:
		return "a date-time"
	case tStringOrArr:
		return "a string or an array of strings"
	case tTable, tOpaque, "root":
		return "a table"
	case tTables:
		return "an array of tables ([[...]])"
	case tAny:
		return "any value"
	}
	if elem, ok := strings.CutPrefix(typ, "list:"); ok {
		return "an array of " + plural(elem)
	}
	if elem, ok := strings.CutPrefix(typ, "map:"); ok {
		return "a table of " + plural(elem)
	}
	return typ
}

func plural(typ string) string {
	switch typ {
	case tString:
		return "strings"
	case tBool:
		return "booleans"
	case tInt:
		return "integers"
	case tFloat:
		return "numbers"
	case tDuration:
		return "durations"
	}
	return "(" + describe(typ) + ")"
}

// displayKey writes a key path as TOML would, quoting the parts that need it.
func displayKey(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if p == "" || strings.ContainsFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) {
			p = strconv.Quote(p)
		}
		out[i] = p
	}
	return strings.Join(out, ".")
}

// suggest returns the candidate closest to name when it is close enough
// to be a misspelling of it, or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(strings.ToLower(name), strings.ToLower(c))
		if d <= max(2, len(name)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
