package config

import (
	"regexp"
	"sync"
)

// lazyRE compiles its pattern on first use. Compiling the validation
// patterns eagerly cost 0.6 ms of every start, --help and --version
// included, before any of them is needed.
type lazyRE struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

func newLazyRE(src string) *lazyRE { return &lazyRE{src: src} }

func (l *lazyRE) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re
}

// MatchString reports whether s matches the pattern.
func (l *lazyRE) MatchString(s string) bool { return l.get().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (l *lazyRE) FindStringSubmatch(s string) []string { return l.get().FindStringSubmatch(s) }
