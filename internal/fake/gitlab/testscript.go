package gitlab

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnerctl/runnerctl/internal/fake"
)

// Environment variables that "fake-gitlab start" sets in a script.
const (
	EnvURL    = "FAKE_GITLAB_URL"     // URL(), with prefix and trailing slash
	EnvCAFile = "FAKE_GITLAB_CA_FILE" // PEM file of the server's certificate (TLS only)
)

const cmdName = "fake-gitlab"

// writeCA writes the certificate to a file in a new temporary directory,
// outside the script's $WORK so that it cannot show up in files the script
// checks.
func (s *Server) writeCA() (string, error) {
	dir, err := os.MkdirTemp("", "fake-gitlab-ca-")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "gitlab-ca.pem")
	if err := os.WriteFile(file, s.CACertPEM(), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

// ScriptServer returns the fake GitLab of the running script (started by
// "fake-gitlab start"), for other testscript commands that check what
// runnerctl did against it. It fails the script when there is none.
func ScriptServer(ts *testscript.TestScript) *Server { return scriptServer(ts) }

func scriptServer(ts *testscript.TestScript) *Server { return fake.MustAttached[*Server](ts, cmdName) }

// CmdUsage documents the fake-gitlab testscript command.
const CmdUsage = `usage: fake-gitlab SUBCOMMAND [ARGS]

  start [-prefix /gitlab] [-tls] [-token-prefix CANARY] [-token-expires-in 720h]
        start a server for this script; sets $FAKE_GITLAB_URL, and with -tls
        $FAKE_GITLAB_CA_FILE (a PEM file outside $WORK)
  token [-user] [-group ID]... [-project ID]... [-revoked] [-expires YYYY-MM-DD] VALUE [SCOPE...]
        add a personal access token; an administrator's unless -user, whose
        user then owns the -group groups and maintains the -project projects
  revoke VALUE              revoke a personal access token
  group ID FULL_PATH        add a group
  project ID FULL_PATH      add a project
  fail OP STATUS [N] [AFTER]
                            the next N (1) requests of OP fail with STATUS, once
                            AFTER (0) requests of OP have passed
  lose OP [N] [STATUS]      the next N (1) requests of OP act, then answer STATUS (502; 0 aborts)
  drop OP [N]               the next N (1) requests of OP act, then the connection is closed
  ratelimit OP [N] [SECS]   the next N (1) requests of OP get 429 with Retry-After SECS (1)
  ratelimit-policy [-strict] [-period 1s] LIMIT
                            throttle every request over LIMIT a period (fixed windows,
                            per token) as GitLab does, with RateLimit-* headers on every
                            answer; 0 removes the policy. -strict records each request
                            over the limit (see exceeded)
  exceeded                  assert that a strict policy's limit was exceeded, listing
                            the requests over it (! negates: fails the script if it was)
  throttled N               assert that the policy answered N requests with 429
  delay OP DURATION         hold every answer of OP for DURATION (0 removes)
  latency DURATION          hold every answer of every OP for DURATION (0 removes)
  clear                     remove every fault and delay
  url                       print the base URL
  ca FILE                   write the server's certificate (PEM) to FILE
  runners                   print the runners as JSON (without their tokens)
  runner-token ID           print runner ID's current token
  token-expires ID DURATION|never
                            runner ID's current token expires DURATION from now, or never
  contact ID AGO VERSION    runner ID's manager, gitlab-runner VERSION, contacted GitLab AGO (a duration) ago
  requests                  print the requests answered, one a line
  creates N                 assert that N runners were created (! negates)
  token-valid TOKEN         assert that TOKEN is a live runner token (! negates)
  runner ID [FIELD=VALUE...] assert that runner ID exists and is not deleted, with
                            these fields (as in "runners" output; ! negates)

OP is one of: ` + "token_self, get_group, get_project, create_runner, get_runner, update_runner, delete_runner, reset_token, list_runners, verify_runner, graphql"

// Cmd is the fake-gitlab testscript command; register it with
//
//	testscript.Params{Cmds: map[string]func(*testscript.TestScript, bool, []string){"fake-gitlab": gitlab.Cmd}}
//
// See CmdUsage for its subcommands.
func Cmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("%s", CmdUsage)
	}
	sub, args := args[0], args[1:]
	negatable := map[string]bool{"creates": true, "token-valid": true, "runner": true, "exceeded": true}
	if neg && !negatable[sub] {
		ts.Fatalf("fake-gitlab %s does not support !", sub)
	}
	switch sub {
	case "start":
		cmdStart(ts, args)
	case "token":
		cmdToken(ts, args)
	case "revoke":
		needArgs(ts, sub, args, 1, 1)
		scriptServer(ts).RevokeToken(args[0])
	case "group", "project":
		needArgs(ts, sub, args, 2, 2)
		id := atoi64(ts, args[0])
		if sub == "group" {
			scriptServer(ts).AddGroup(id, args[1])
		} else {
			scriptServer(ts).AddProject(id, args[1])
		}
	case "fail":
		needArgs(ts, sub, args, 2, 4)
		op := checkOp(ts, args[0])
		scriptServer(ts).FailAfter(op, fake.Atoi(ts, args[1]), optInt(ts, args, 2, 1), optInt(ts, args, 3, 0))
	case "lose":
		needArgs(ts, sub, args, 1, 3)
		op := checkOp(ts, args[0])
		scriptServer(ts).LoseResponseWith(op, optInt(ts, args, 2, 502), optInt(ts, args, 1, 1))
	case "drop":
		needArgs(ts, sub, args, 1, 2)
		op := checkOp(ts, args[0])
		scriptServer(ts).LoseConnection(op, optInt(ts, args, 1, 1))
	case "ratelimit":
		needArgs(ts, sub, args, 1, 3)
		op := checkOp(ts, args[0])
		scriptServer(ts).RateLimit(op, optInt(ts, args, 1, 1), optInt(ts, args, 2, 1))
	case "ratelimit-policy":
		cmdRateLimitPolicy(ts, args)
	case "exceeded":
		needArgs(ts, sub, args, 0, 0)
		vs := scriptServer(ts).RateLimitViolations()
		for _, v := range vs {
			fmt.Fprintln(ts.Stdout(), v)
		}
		if (len(vs) > 0) == neg {
			if neg {
				ts.Fatalf("fake-gitlab: %d requests exceeded the rate limit", len(vs))
			}
			ts.Fatalf("fake-gitlab: no request exceeded the rate limit")
		}
	case "throttled":
		needArgs(ts, sub, args, 1, 1)
		if want, got := fake.Atoi(ts, args[0]), scriptServer(ts).Throttled(); got != want {
			ts.Fatalf("fake-gitlab: %d requests were throttled, want %d", got, want)
		}
	case "latency":
		needArgs(ts, sub, args, 1, 1)
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		scriptServer(ts).DelayAll(d)
	case "url":
		fmt.Fprintln(ts.Stdout(), scriptServer(ts).URL())
	case "ca":
		needArgs(ts, sub, args, 1, 1)
		pem := scriptServer(ts).CACertPEM()
		if pem == nil {
			ts.Fatalf("fake-gitlab ca: the server does not use TLS")
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem, 0o600))
	case "runners":
		writeRunnersJSON(ts.Stdout(), scriptServer(ts).Runners())
	case "runner-token":
		needArgs(ts, sub, args, 1, 1)
		r, ok := scriptServer(ts).Runner(atoi64(ts, args[0]))
		if !ok {
			ts.Fatalf("fake-gitlab: no runner %s", args[0])
		}
		fmt.Fprintln(ts.Stdout(), r.Token)
	case "token-expires":
		needArgs(ts, sub, args, 2, 2)
		var at *time.Time
		if args[1] != "never" {
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			t := time.Now().Add(d)
			at = &t
		}
		if !scriptServer(ts).SetRunnerTokenExpiresAt(atoi64(ts, args[0]), at) {
			ts.Fatalf("fake-gitlab: no runner %s", args[0])
		}
	case "contact":
		needArgs(ts, sub, args, 3, 3)
		ago, err := time.ParseDuration(args[1])
		ts.Check(err)
		if !scriptServer(ts).SetRunnerContact(atoi64(ts, args[0]), time.Now().Add(-ago), args[2]) {
			ts.Fatalf("fake-gitlab: no runner %s", args[0])
		}
	case "creates":
		needArgs(ts, sub, args, 1, 1)
		want, got := fake.Atoi(ts, args[0]), scriptServer(ts).CreateCount()
		if (got == want) == neg {
			if neg {
				ts.Fatalf("fake-gitlab: %d runners were created, want any other number", got)
			}
			ts.Fatalf("fake-gitlab: %d runners were created, want %d", got, want)
		}
	case "token-valid":
		needArgs(ts, sub, args, 1, 1)
		if scriptServer(ts).TokenValid(args[0]) == neg {
			if neg {
				ts.Fatalf("fake-gitlab: the runner token is still valid")
			}
			ts.Fatalf("fake-gitlab: the runner token is not valid")
		}
	case "runner":
		needArgs(ts, sub, args, 1, 100)
		ok, why := checkRunner(scriptServer(ts), atoi64(ts, args[0]), args[1:])
		if ok == neg {
			if neg {
				ts.Fatalf("fake-gitlab: runner %s matches", args[0])
			}
			ts.Fatalf("fake-gitlab: runner %s: %s", args[0], why)
		}
	default:
		// delay, clear, requests
		if !fake.FaultCmd(ts, cmdName, sub, args, func() fake.Server { return scriptServer(ts) }) {
			ts.Fatalf("fake-gitlab: unknown subcommand %q\n%s", sub, CmdUsage)
		}
	}
}

func cmdRateLimitPolicy(ts *testscript.TestScript, args []string) {
	fs := flag.NewFlagSet("fake-gitlab ratelimit-policy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var p RateLimitPolicy
	fs.BoolVar(&p.Strict, "strict", false, "")
	fs.DurationVar(&p.Period, "period", time.Second, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("fake-gitlab ratelimit-policy: bad arguments %q\n%s", args, CmdUsage)
	}
	p.Limit = fake.Atoi(ts, fs.Arg(0))
	ts.Check(scriptServer(ts).SetRateLimit(p))
}

func cmdStart(ts *testscript.TestScript, args []string) {
	fs := flag.NewFlagSet("fake-gitlab start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o Options
	fs.StringVar(&o.PathPrefix, "prefix", "", "")
	fs.BoolVar(&o.TLS, "tls", false, "")
	fs.StringVar(&o.TokenPrefix, "token-prefix", "", "")
	fs.DurationVar(&o.RunnerTokenExpiresIn, "token-expires-in", 0, "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		ts.Fatalf("fake-gitlab start: bad arguments %q\n%s", args, CmdUsage)
	}
	if _, dup := fake.Attached[*Server](ts, cmdName); dup {
		ts.Fatalf("fake-gitlab start: a server is already running in this script")
	}
	s, err := Start(o)
	ts.Check(err)
	fake.Attach(ts, cmdName, s)
	ts.Setenv(EnvURL, s.URL())
	if o.TLS {
		file, err := s.writeCA()
		ts.Check(err)
		ts.Defer(func() { _ = os.RemoveAll(filepath.Dir(file)) })
		ts.Setenv(EnvCAFile, file)
	}
}

type int64List []int64

func (l *int64List) String() string { return fmt.Sprint([]int64(*l)) }
func (l *int64List) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return err
	}
	*l = append(*l, n)
	return nil
}

func cmdToken(ts *testscript.TestScript, args []string) {
	fs := flag.NewFlagSet("fake-gitlab token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.Bool("user", false, "")
	revoked := fs.Bool("revoked", false, "")
	expires := fs.String("expires", "", "")
	var groups, projects int64List
	fs.Var(&groups, "group", "")
	fs.Var(&projects, "project", "")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 {
		ts.Fatalf("fake-gitlab token: bad arguments %q\n%s", args, CmdUsage)
	}
	o := TokenOptions{
		Scopes:             fs.Args()[1:],
		Admin:              !*user,
		OwnedGroups:        groups,
		MaintainedProjects: projects,
		Revoked:            *revoked,
	}
	if *expires != "" {
		t, err := time.Parse("2006-01-02", *expires)
		ts.Check(err)
		o.ExpiresAt = &t
	}
	scriptServer(ts).AddTokenWith(fs.Arg(0), o)
}

// runnerView is a runner as "fake-gitlab runners" prints it: no tokens.
type runnerView struct {
	ID              int64    `json:"id"`
	RunnerType      string   `json:"runner_type"`
	GroupID         int64    `json:"group_id"`
	ProjectID       int64    `json:"project_id"`
	Description     string   `json:"description"`
	Paused          bool     `json:"paused"`
	Locked          bool     `json:"locked"`
	RunUntagged     bool     `json:"run_untagged"`
	TagList         []string `json:"tag_list"`
	AccessLevel     string   `json:"access_level"`
	MaximumTimeout  int64    `json:"maximum_timeout"`
	MaintenanceNote string   `json:"maintenance_note"`
	TokenExpiresAt  *string  `json:"token_expires_at"`
	TokenResets     int      `json:"token_resets"`
	Updates         int      `json:"updates"`
	Deleted         bool     `json:"deleted"`
}

func viewOf(r Runner) runnerView {
	tags := r.TagList
	if tags == nil {
		tags = []string{}
	}
	return runnerView{
		ID: r.ID, RunnerType: r.RunnerType, GroupID: r.GroupID, ProjectID: r.ProjectID,
		Description: r.Description, Paused: r.Paused, Locked: r.Locked, RunUntagged: r.RunUntagged,
		TagList: tags, AccessLevel: r.AccessLevel, MaximumTimeout: r.MaximumTimeout,
		MaintenanceNote: r.MaintenanceNote, TokenExpiresAt: tsPtr(r.TokenExpiresAt),
		TokenResets: len(r.OldTokens), Updates: r.Updates, Deleted: r.Deleted,
	}
}

func writeRunnersJSON(w io.Writer, rs []Runner) {
	views := make([]runnerView, 0, len(rs))
	for _, r := range rs {
		views = append(views, viewOf(r))
	}
	b, _ := json.MarshalIndent(views, "", "  ")
	fmt.Fprintf(w, "%s\n", b)
}

// checkRunner compares runner id's fields, as JSON values of runnerView
// (tag_list as a comma-separated list), with FIELD=VALUE pairs.
func checkRunner(s *Server, id int64, pairs []string) (bool, string) {
	r, ok := s.Runner(id)
	if !ok {
		return false, "no such runner"
	}
	if r.Deleted {
		return false, "deleted"
	}
	b, _ := json.Marshal(viewOf(r))
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	for _, p := range pairs {
		k, want, ok := strings.Cut(p, "=")
		if !ok {
			return false, fmt.Sprintf("bad FIELD=VALUE %q", p)
		}
		v, known := fields[k]
		if !known {
			return false, fmt.Sprintf("unknown field %q", k)
		}
		var got string
		switch v := v.(type) {
		case nil:
			got = "null"
		case string:
			got = v
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			got = strings.Join(parts, ",")
		case float64:
			got = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			got = fmt.Sprint(v)
		}
		if got != want {
			return false, fmt.Sprintf("%s is %q, want %q", k, got, want)
		}
	}
	return true, ""
}

func needArgs(ts *testscript.TestScript, sub string, args []string, lo, hi int) {
	if len(args) < lo || len(args) > hi {
		ts.Fatalf("fake-gitlab %s: wrong number of arguments\n%s", sub, CmdUsage)
	}
}

func checkOp(ts *testscript.TestScript, op string) string {
	return fake.CheckOp(ts, cmdName, scriptServer(ts), op)
}

func atoi64(ts *testscript.TestScript, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	ts.Check(err)
	return n
}

func optInt(ts *testscript.TestScript, args []string, i, def int) int {
	if i < len(args) {
		return fake.Atoi(ts, args[i])
	}
	return def
}
