package render

import (
	"bytes"
	"encoding"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// A block-style YAML writer for render's own object types that gives, byte
// for byte, what go.yaml.in/yaml/v3 with an indent of 2 gives for them.
//
// Why: yaml/v3's encoder runs every value through libyaml's event machine
// and keeps every event of a document in a slice that only grows (about
// 0.5 MB allocated per runner); encoding was most of render's time and
// nearly all of its garbage, which at 10,000 runners made the collector
// the bottleneck. This writer walks the typed values with reflection and
// appends text, for a fraction of the time and allocations.
//
// It knows only what render emits: structs with yaml tags (omitempty
// allowed), pointers, maps with string keys, slices, strings, integers and
// booleans. Anything else (a float, an interface, a type with its own
// marshalling, an inline or flow field, a key needing the "? " form, a
// string needing keep-chomping) makes appendYAML report errUnsupported,
// and marshalDocs falls back to yaml/v3 for the whole file: the output is
// the same either way, only slower. Which style a string gets (plain,
// quoted, literal block) is decided here only for strings whose answer is
// obvious; for any other, yaml/v3 itself is asked, on that one string
// (scalarOracle). TestYAMLWriterMatchesYAMLv3 and FuzzYAMLWriter compare
// the two encoders.

var errUnsupported = errors.New("value outside what the fast YAML writer handles")

type yamlWriter struct {
	b []byte
}

// appendYAML appends v, a struct or a map, as one YAML document.
func appendYAML(dst []byte, v any) ([]byte, error) {
	w := yamlWriter{b: dst}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if k := rv.Kind(); k != reflect.Struct && k != reflect.Map {
		return dst, errUnsupported
	}
	if err := w.node(rv, 0, ctxRoot); err != nil {
		return dst, err
	}
	return w.b, nil
}

// Where a node goes: the root of a document, after "key:", or after "- ".
type nodeCtx int

const (
	ctxRoot nodeCtx = iota
	ctxValue
	ctxItem
)

// node writes v. col is the column of the entries of v when v is a
// non-empty collection; for ctxValue and ctxItem, the caller has written
// "key:" or "- " (without the space after "key:").
func (w *yamlWriter) node(v reflect.Value, col int, ctx nodeCtx) error {
	t, err := typeInfoOf(v.Type())
	if err != nil {
		return err
	}
	switch t.kind {
	case kindPointer:
		if v.IsNil() {
			return w.inline(ctx, "null")
		}
		return w.node(v.Elem(), col, ctx)
	case kindStruct:
		if !w.structHasFields(v, t) {
			return w.inline(ctx, "{}")
		}
		w.open(ctx)
		return w.structFields(v, t, col, ctx == ctxItem)
	case kindMap:
		if v.Len() == 0 {
			return w.inline(ctx, "{}")
		}
		w.open(ctx)
		return w.mapEntries(v, col, ctx == ctxItem)
	case kindSlice:
		if v.Len() == 0 {
			return w.inline(ctx, "[]")
		}
		w.open(ctx)
		return w.items(v, col, ctx == ctxItem)
	case kindString:
		return w.scalar(v.String(), col, ctx)
	case kindInt:
		return w.inline(ctx, strconv.FormatInt(v.Int(), 10))
	case kindUint:
		return w.inline(ctx, strconv.FormatUint(v.Uint(), 10))
	case kindBool:
		return w.inline(ctx, strconv.FormatBool(v.Bool()))
	}
	return errUnsupported
}

// open ends the "key:" line before a collection's entries; after "- " the
// first entry follows on the same line.
func (w *yamlWriter) open(ctx nodeCtx) {
	if ctx == ctxValue {
		w.b = append(w.b, '\n')
	}
}

// inline writes a one-line scalar, or {} or [], where ctx puts it.
func (w *yamlWriter) inline(ctx nodeCtx, s string) error {
	switch ctx {
	case ctxValue:
		w.b = append(w.b, ' ')
	case ctxRoot:
		return errUnsupported // a document is a struct or a map
	}
	w.b = append(w.b, s...)
	w.b = append(w.b, '\n')
	return nil
}

func (w *yamlWriter) indent(col int) {
	for range col {
		w.b = append(w.b, ' ')
	}
}

// structHasFields reports whether any field of v is written.
func (w *yamlWriter) structHasFields(v reflect.Value, t *typeInfo) bool {
	for i := range t.fields {
		f := &t.fields[i]
		if !f.omitEmpty || !isZero(v.Field(f.index), f.info) {
			return true
		}
	}
	return false
}

// structFields writes the fields of v, at col; the first one on the current
// line when firstInline (after "- ").
func (w *yamlWriter) structFields(v reflect.Value, t *typeInfo, col int, firstInline bool) error {
	first := true
	for i := range t.fields {
		f := &t.fields[i]
		fv := v.Field(f.index)
		if f.omitEmpty && isZero(fv, f.info) {
			continue
		}
		if !first || !firstInline {
			w.indent(col)
		}
		first = false
		w.b = append(w.b, f.key...)
		w.b = append(w.b, ':')
		if err := w.value(fv, col); err != nil {
			return err
		}
	}
	return nil
}

// value writes the value of a mapping entry whose key, at col, is written.
func (w *yamlWriter) value(v reflect.Value, col int) error {
	return w.node(v, col+2, ctxValue)
}

func (w *yamlWriter) mapEntries(v reflect.Value, col int, firstInline bool) error {
	if v.Type().Key().Kind() != reflect.String {
		return errUnsupported
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		entries = append(entries, entry{it.Key().String(), it.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return compareKeys(a.key, b.key) })
	for i, e := range entries {
		if i > 0 || !firstInline {
			w.indent(col)
		}
		if err := w.key(e.key); err != nil {
			return err
		}
		if err := w.value(e.val, col); err != nil {
			return err
		}
	}
	return nil
}

// key writes a map key and its colon. yaml/v3 writes a key longer than 128
// bytes, or one holding a line break (of any kind YAML knows), in the "? "
// form, which this writer does not; otherwise a key is styled as the same
// string would be as a value.
func (w *yamlWriter) key(k string) error {
	if len(k) > 128 || strings.ContainsAny(k, "\n\r\u0085\u2028\u2029") {
		return errUnsupported
	}
	s, err := styleOf(k)
	if err != nil {
		return err
	}
	if s.literal {
		return errUnsupported
	}
	w.b = append(w.b, s.text...)
	w.b = append(w.b, ':')
	return nil
}

func (w *yamlWriter) items(v reflect.Value, col int, firstInline bool) error {
	for i := range v.Len() {
		if i > 0 || !firstInline {
			w.indent(col)
		}
		w.b = append(w.b, "- "...)
		if err := w.node(v.Index(i), col+2, ctxItem); err != nil {
			return err
		}
	}
	return nil
}

// scalar writes string s where ctx puts it; a literal block's lines go at
// col, two columns right of the entry that holds it.
func (w *yamlWriter) scalar(s string, col int, ctx nodeCtx) error {
	st, err := styleOf(s)
	if err != nil {
		return err
	}
	if !st.literal {
		return w.inline(ctx, st.text)
	}
	if ctx == ctxRoot {
		return errUnsupported
	}
	if ctx == ctxValue {
		w.b = append(w.b, ' ')
	}
	w.b = append(w.b, st.text...) // the header: | or |-
	w.b = append(w.b, '\n')
	for line := range strings.Lines(s) {
		if line != "\n" {
			w.indent(col)
		}
		w.b = append(w.b, line...)
	}
	if s[len(s)-1] != '\n' {
		w.b = append(w.b, '\n') // |- : the last line ends in the file only
	}
	return nil
}

// scalarStyle is how a string is written: text on the line of its key or
// dash, or for a literal block (literal), the header; the block's lines are
// then the string's own, indented.
type scalarStyle struct {
	text    string
	literal bool
}

// styleOf decides how yaml/v3 writes s in block context.
func styleOf(s string) (scalarStyle, error) {
	if plainAtSight(s) {
		return scalarStyle{text: s}, nil
	}
	if header, ok := literalAtSight(s); ok {
		return scalarStyle{text: header, literal: true}, nil
	}
	return scalarOracle(s)
}

// plainAtSight reports whether s is certainly written plain: it starts with
// a letter, '/' or '$' (none of which starts a YAML indicator, a number or a
// timestamp), holds only letters, digits and . _ / - and colons not at the
// end (a colon is an indicator only before a space or at the end), and is
// not one of the words that would read back as a boolean or null (YAML 1.2's,
// and YAML 1.1's booleans, which yaml/v3 also quotes).
func plainAtSight(s string) bool {
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '/', c == '$':
	default:
		return false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '/', c == '-':
		case c == ':':
			if i == len(s)-1 {
				return false
			}
		default:
			return false
		}
	}
	if len(s) <= 5 {
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL",
			"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
			"on", "On", "ON", "off", "Off", "OFF":
			return false
		}
	}
	return true
}

// literalAtSight reports whether s is certainly written as a literal block
// without an indentation indicator, and with which header: s spans lines,
// holds only printable ASCII besides its newlines, starts with neither a
// space nor a newline, has no space at the end of a line or of s, and ends
// with at most one newline ("|" keeps it, "|-" says there is none).
func literalAtSight(s string) (string, bool) {
	if !strings.Contains(s, "\n") || s[0] == ' ' || s[0] == '\n' {
		return "", false
	}
	for i := range len(s) {
		c := s[i]
		if c == '\n' {
			if i > 0 && s[i-1] == ' ' {
				return "", false
			}
			continue
		}
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	switch {
	case s[len(s)-1] == ' ':
		return "", false
	case strings.HasSuffix(s, "\n\n"):
		return "", false
	case s[len(s)-1] == '\n':
		return "|", true
	}
	return "|-", true
}

// Styles that yaml/v3 chose, for strings short enough to repeat (versions,
// quantities, ports); bounded so that a spec full of distinct odd strings
// cannot grow it without end.
var (
	oracleMemo  sync.Map // string -> scalarStyle
	oracleCount atomic.Int32
)

const (
	oracleMemoMaxLen  = 64
	oracleMemoEntries = 4096
)

// scalarOracle asks yaml/v3 how it writes s, as a document of its own: the
// style chosen for a string does not depend on where it stands in block
// context (flow context is never used), only a literal block's indentation
// does, and that is the body's to move.
func scalarOracle(s string) (scalarStyle, error) {
	if len(s) <= oracleMemoMaxLen {
		if st, ok := oracleMemo.Load(s); ok {
			return st.(scalarStyle), nil
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return scalarStyle{}, err
	}
	if err := enc.Close(); err != nil {
		return scalarStyle{}, err
	}
	out := b.String()
	var st scalarStyle
	switch {
	case strings.HasPrefix(out, "|"):
		header, body, _ := strings.Cut(out, "\n")
		if strings.ContainsAny(header, "+0123456789") {
			return scalarStyle{}, errUnsupported // keep-chomping or an indentation indicator
		}
		var lines strings.Builder
		for line := range strings.Lines(body) {
			if line != "\n" {
				if !strings.HasPrefix(line, "  ") {
					return scalarStyle{}, errUnsupported
				}
				line = line[2:]
			}
			lines.WriteString(line)
		}
		// The lines, unindented, must be s itself: then the writer's
		// indenting of s gives what yaml/v3 gives.
		if got := lines.String(); !(header == "|" && got == s || header == "|-" && got == s+"\n") {
			return scalarStyle{}, errUnsupported
		}
		st = scalarStyle{text: header, literal: true}
	case strings.Count(out, "\n") == 1 && strings.HasSuffix(out, "\n") &&
		(out[0] == '\'' || out[0] == '"' || out == s+"\n"):
		st = scalarStyle{text: out[:len(out)-1]}
	default:
		return scalarStyle{}, errUnsupported // a tag (invalid UTF-8), a document marker, ...
	}
	if len(s) <= oracleMemoMaxLen && oracleCount.Load() < oracleMemoEntries {
		if _, loaded := oracleMemo.LoadOrStore(s, st); !loaded {
			oracleCount.Add(1)
		}
	}
	return st, nil
}

// compareKeys orders map keys as yaml/v3 does: rune by rune, except that
// runs of digits compare as numbers, and where a letter meets a non-letter
// the letter goes first right after a digit and last otherwise.
func compareKeys(a, b string) int {
	switch {
	case a == b:
		return 0
	case keyLess(a, b):
		return -1
	}
	return 1
}

func keyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	afterDigit := false
	for i := 0; i < len(ar) && i < len(br); i++ {
		x, y := ar[i], br[i]
		if x == y {
			afterDigit = unicode.IsDigit(x)
			continue
		}
		xl, yl := unicode.IsLetter(x), unicode.IsLetter(y)
		switch {
		case xl && yl:
			return x < y
		case xl || yl:
			if afterDigit {
				return xl
			}
			return yl
		}
		// Neither is a letter: compare the digit runs that start here as
		// numbers. A zero that continues a number with a non-zero digit
		// before it is no leading zero: the run counts as larger than a run
		// of the same digits that does not continue one.
		var xn, yn int64
		if x == '0' || y == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					xn, yn = 1, 1
					break
				}
			}
		}
		xe, ye := i, i
		for ; xe < len(ar) && unicode.IsDigit(ar[xe]); xe++ {
			xn = xn*10 + int64(ar[xe]-'0')
		}
		for ; ye < len(br) && unicode.IsDigit(br[ye]); ye++ {
			yn = yn*10 + int64(br[ye]-'0')
		}
		switch {
		case xn != yn:
			return xn < yn
		case xe != ye:
			return xe < ye
		}
		return x < y
	}
	return len(ar) < len(br)
}

// How the writer treats a Go type, found once per type.
type valueKind int

const (
	kindUnsupported valueKind = iota
	kindPointer
	kindStruct
	kindMap
	kindSlice
	kindString
	kindInt
	kindUint
	kindBool
)

type typeInfo struct {
	kind   valueKind
	fields []fieldInfo // kindStruct
}

type fieldInfo struct {
	index     int
	key       string
	omitEmpty bool
	info      *typeInfo
}

var typeInfos sync.Map // reflect.Type -> *typeInfo

func typeInfoOf(t reflect.Type) (*typeInfo, error) {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo), nil
	}
	ti := &typeInfo{kind: kindUnsupported}
	if !customMarshalling(t) {
		switch t.Kind() {
		case reflect.Pointer:
			ti.kind = kindPointer
		case reflect.Map:
			ti.kind = kindMap
		case reflect.Slice:
			if t.Elem().Kind() != reflect.Uint8 {
				ti.kind = kindSlice
			}
		case reflect.String:
			ti.kind = kindString
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			ti.kind = kindInt
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			ti.kind = kindUint
		case reflect.Bool:
			ti.kind = kindBool
		case reflect.Struct:
			if fields, ok := structFieldsOf(t); ok {
				ti.kind, ti.fields = kindStruct, fields
			}
		}
	}
	typeInfos.Store(t, ti)
	if ti.kind == kindUnsupported {
		return nil, errUnsupported
	}
	return ti, nil
}

// customMarshalling reports whether yaml/v3 would treat values of t other
// than by their kind.
func customMarshalling(t reflect.Type) bool {
	for _, tt := range []reflect.Type{t, reflect.PointerTo(t)} {
		if tt.Implements(reflect.TypeFor[yaml.Marshaler]()) ||
			tt.Implements(reflect.TypeFor[encoding.TextMarshaler]()) ||
			tt.Implements(reflect.TypeFor[yaml.IsZeroer]()) {
			return true
		}
	}
	return t == reflect.TypeFor[time.Duration]() || t == reflect.TypeFor[time.Time]() ||
		t == reflect.TypeFor[yaml.Node]()
}

// structFieldsOf lists the fields yaml/v3 writes for struct type t, in
// order; false when one is beyond this writer (no yaml tag, inline, flow).
func structFieldsOf(t reflect.Type) ([]fieldInfo, bool) {
	var fields []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false
		}
		if !sf.IsExported() {
			continue
		}
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || tag == "" {
			return nil, false
		}
		if tag == "-" {
			return nil, false // skipped in output, yet counted by yaml/v3's omitempty
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := fieldInfo{index: i, key: name}
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "":
			case "omitempty":
				f.omitEmpty = true
			default:
				return nil, false
			}
		}
		if name == "" || !plainAtSight(name) {
			return nil, false
		}
		fi, err := typeInfoOf(sf.Type)
		if err != nil {
			return nil, false
		}
		f.info = fi
		fields = append(fields, f)
	}
	return fields, true
}

// isZero is yaml/v3's test for omitempty, for the kinds this writer takes.
func isZero(v reflect.Value, t *typeInfo) bool {
	switch t.kind {
	case kindPointer:
		return v.IsNil()
	case kindMap, kindSlice:
		return v.Len() == 0
	case kindString:
		return v.Len() == 0
	case kindInt:
		return v.Int() == 0
	case kindUint:
		return v.Uint() == 0
	case kindBool:
		return !v.Bool()
	case kindStruct:
		for i := range t.fields {
			if !isZero(v.Field(t.fields[i].index), t.fields[i].info) {
				return false
			}
		}
		return true
	}
	return false
}
