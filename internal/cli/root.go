// Package cli holds runnerctl's commands: flags, prompts and output. Each
// command receives its dependencies through a factory, never through
// package-level state, so tests run commands in-process side by side.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// Exit codes of every command (render --check uses 1 for drift).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// globals are the flags every command shares, bound to the root's
// persistent flags and layered by bindFlags (flag > RUNNERCTL_* environment
// variable > default).
type globals struct {
	configPath string
	output     string
	quiet      bool
	noColor    bool
	color      bool // stderr is a terminal and colors are not disabled
}

// Main runs runnerctl with the process's arguments and streams.
func Main() int {
	tuneGC(os.Getenv)
	return Run(os.Args[1:], &factory{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
}

// tuneGC trades memory for speed in a short-lived process: rendering is
// allocation-heavy YAML encoding over a small live heap, so collecting less
// often cuts a 200-runner render by about a third. The soft memory limit
// keeps peak RSS well inside the 64 MB budget. GOGC or GOMEMLIMIT set by the
// user win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
}

// fitGC makes room, in the soft memory limit tuneGC set, for a command
// that renders runners runners. Every generated file stays in memory until
// it is written, with its old content when it changes: about 20 KiB a
// runner, so 10,000 runners hold some 200 MB, far above 48 MiB. A live heap
// above the limit has the collector run without pause (a 10,000-runner
// render took 48 s that way, most of it collecting), so the limit grows
// with the fleet, and the collector runs at the usual pace (GOGC 100) to
// keep the peak near twice what is live rather than five times. GOGC or
// GOMEMLIMIT set by the user win, as in tuneGC.
func fitGC(getenv func(string) string, runners int) {
	want := int64(32<<20 + runners*20<<10)
	if getenv("GOMEMLIMIT") != "" || want <= debug.SetMemoryLimit(-1) {
		return // the user's limit, or room enough (tests run with none)
	}
	debug.SetMemoryLimit(want)
	if getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}

// Run executes one command line with the dependencies f (nil ones are the
// real ones) and returns its exit code.
func Run(args []string, f *factory) int {
	return execute(newRootCmd(f), args, f.stderr)
}

// execute runs root with args and turns its error into an exit code,
// printing the message on stderr.
func execute(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	// Every message passes redact.Text on its way out (whatever URL an
	// error quotes, one that did not parse say, loses its credentials and
	// query, whichever code built the message), then safetext.Terminal (an
	// error may carry text from the command line or from files: what would
	// act on the terminal is escaped).
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "runnerctl: "+safetext.Terminal(redact.Text(msg)))
		}
		return coded.ExitCode()
	}
	fmt.Fprintln(stderr, "runnerctl: "+safetext.Terminal(redact.Text(err.Error())))
	if isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// usageError is a mistake in the command line itself: exit 2.
type usageError struct{ error }

func (u usageError) ExitCode() int { return ExitUsage }

// exitError carries an exit code with an already printed (or empty) message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "requires exactly"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// runHooks replace commands' runs (tests of the parsing); a nil hook is
// the real run.
type runHooks struct {
	init     func(context.Context, *initOptions) error
	render   func(context.Context, *renderOptions) error
	validate func(context.Context, *validateOptions) error
	status   func(context.Context, *statusOptions) error
	doctor   func(context.Context, *doctorOptions) error
	rotate   func(context.Context, *rotateOptions) error
	importer func(context.Context, *importOptions) error
}

func newRootCmd(f *factory) *cobra.Command { return newRootCmdWith(f, runHooks{}) }

// newRootCmdWith is the root command with every command registered. A new
// command is one line here, and its file.
func newRootCmdWith(f *factory, hooks runHooks) *cobra.Command {
	f.fill()
	g := &globals{}
	root := &cobra.Command{
		Use:   "runnerctl",
		Short: "Bootstrap self-hosted GitLab Runners on Kubernetes the GitOps way",
		Long: `runnerctl turns runnerctl.yaml into the files of a GitOps repository: an ArgoCD
Application for the gitlab-runner Helm chart (an ApplicationSet for a runner
deployed to several clusters), or under gitops.engine flux a Flux
Kustomization and HelmRelease; an External Secrets Operator ExternalSecret
for the runner token; and hardened Helm values.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindFlags(cmd, f.getenv); err != nil {
				return err
			}
			if g.output != "text" && g.output != "json" {
				return usageError{fmt.Errorf("--output %q: use text or json", g.output)}
			}
			g.color = g.output == "text" && f.colorsOn(g, f.stderr)
			return nil
		},
	}
	root.SetIn(f.stdin)
	root.SetOut(f.stdout)
	root.SetErr(f.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "runnerctl.yaml", "path of the configuration file; its directory is the repository root")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors (and diffs with render --check)")
	pf.BoolVar(&g.noColor, "no-color", false, "disable colors (also NO_COLOR)")

	root.AddCommand(
		newInitCmd(f, g, hooks.init),
		newRenderCmd(f, g, hooks.render),
		newValidateCmd(f, g, hooks.validate),
		newStatusCmd(f, g, hooks.status),
		newDoctorCmd(f, g, hooks.doctor),
		newRotateCmd(f, g, hooks.rotate),
		newImportCmd(f, g, hooks.importer),
		newProfilesCmd(f, g),
		newVersionCmd(f, g),
	)
	// cobra would add its completion command (bash, zsh, fish, powershell)
	// only when executing; adding it here puts it in the generated docs too.
	root.InitDefaultCompletionCmd()
	// A group of commands (profiles, completion) prints its help, and an
	// unknown subcommand of it is a usage error (exit 2), not help with exit 0.
	for _, c := range root.Commands() {
		if c.HasSubCommands() && !c.Runnable() {
			c.Args = cobra.NoArgs
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return root
}

// bindFlags layers every flag of cmd as flag > RUNNERCTL_<FLAG> > default.
// An environment value that does not parse is a usage error naming it.
// Every flag is bound to a field of its command's options (or of globals),
// so setting the flag sets the field; nothing reads a flag back by name.
func bindFlags(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		name := "RUNNERCTL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if val := getenv(name); val != "" && !f.Changed {
			if serr := f.Value.Set(val); serr != nil {
				err = usageError{fmt.Errorf("environment variable %s=%q: %w", name, val, serr)}
			}
		}
	})
	return err
}
