// Package cli holds runnerctl's commands: flags, prompts and output. Each
// command receives its dependencies through an env value, never through
// package-level state, so tests run commands in-process side by side.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// Exit codes of every command (render --check uses 1 for drift).
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// env is what a command may touch of the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// checkpoint is called at each step of a token's custody; nil in
	// runnerctl (the tests of what a kill leaves behind set it).
	checkpoint custody.Checkpoint
}

// globals are the flags every command shares, after viper's layering
// (flag > RUNNERCTL_* environment variable > default).
type globals struct {
	configPath string
	output     string
	quiet      bool
	color      bool // stderr is a terminal and colors are not disabled
}

// Main runs runnerctl with the process's arguments and streams.
func Main() int {
	tuneGC(os.Getenv)
	return Run(os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
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

// Run executes one command line and returns its exit code.
func Run(args []string, e env) int {
	root := newRootCmd(e)
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
			fmt.Fprintln(e.stderr, "runnerctl: "+safetext.Terminal(redact.Text(msg)))
		}
		return coded.ExitCode()
	}
	fmt.Fprintln(e.stderr, "runnerctl: "+safetext.Terminal(redact.Text(err.Error())))
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

func newRootCmd(e env) *cobra.Command {
	v := viper.New()
	g := &globals{}
	root := &cobra.Command{
		Use:   "runnerctl",
		Short: "Bootstrap self-hosted GitLab Runners on Kubernetes the GitOps way",
		Long: `runnerctl turns runnerctl.yaml into the files of a GitOps repository: an ArgoCD
Application for the gitlab-runner Helm chart, an External Secrets Operator
ExternalSecret for the runner token, and hardened Helm values.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindFlags(cmd, v, e.getenv); err != nil {
				return err
			}
			g.configPath = v.GetString("config")
			g.output = v.GetString("output")
			g.quiet = v.GetBool("quiet")
			if g.output != "text" && g.output != "json" {
				return usageError{fmt.Errorf("--output %q: use text or json", g.output)}
			}
			g.color = !v.GetBool("no-color") && e.getenv("NO_COLOR") == "" && g.output == "text" && isTerminal(e.stderr)
			return nil
		},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.String("config", "runnerctl.yaml", "path of the configuration file; its directory is the repository root")
	pf.StringP("output", "o", "text", "output format: text or json")
	pf.BoolP("quiet", "q", false, "print only errors (and diffs with render --check)")
	pf.Bool("no-color", false, "disable colors (also NO_COLOR)")

	root.AddCommand(
		newInitCmd(e, g, v),
		newRenderCmd(e, g, v),
		newValidateCmd(e, g, v),
		newStatusCmd(e, g, v),
		newDoctorCmd(e, g, v),
		newRotateCmd(e, g, v),
		newProfilesCmd(e, g),
		newVersionCmd(e, g),
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
func bindFlags(cmd *cobra.Command, v *viper.Viper, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil {
			return
		}
		name := "RUNNERCTL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if val := getenv(name); val != "" && !f.Changed {
			if serr := f.Value.Set(val); serr != nil {
				err = usageError{fmt.Errorf("environment variable %s=%q: %w", name, val, serr)}
				return
			}
		}
		err = v.BindPFlag(f.Name, f)
	})
	return err
}
