package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	kuberemote "github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

func TestReachProblemTellsCausesApart(t *testing.T) {
	get := func(err error) error { // as net/http and gitlab.Probe wrap it
		return fmt.Errorf("GitLab https://gitlab.example/: %w", &url.Error{Op: "Get", URL: "https://gitlab.example/", Err: err})
	}
	for _, tc := range []struct {
		err         error
		detail, fix string
	}{
		{get(&net.DNSError{Name: "gitlab.example", Err: "no such host", IsNotFound: true}), `DNS: cannot resolve "gitlab.example"`, "host name in gitlab.url"},
		{get(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "connection refused", "host and port"},
		{get(x509.UnknownAuthorityError{}), "unknown authority", "--ca-file, and set gitlab.tls"},
		{get(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "gitlab.example"}), "TLS: x509:", "host name that GitLab's certificate names"},
		{get(context.DeadlineExceeded), "no answer within 10s", "HTTPS_PROXY"},
		{fmt.Errorf("GitLab x: %w", &gitlab.HTTPError{StatusCode: 404}), "no GitLab API there (HTTP 404)", "path prefix"},
		{fmt.Errorf("GitLab x: %w", &gitlab.HTTPError{StatusCode: 502}), "GitLab answered HTTP 502 Bad Gateway", "proxy"},
		{get(errors.New("something else")), "connection failed: ", "network path"},
	} {
		detail, fix := reachProblem(tc.err)
		if !strings.Contains(detail, tc.detail) || !strings.Contains(fix, tc.fix) {
			t.Errorf("reachProblem(%v) = %q, %q; want %q in the detail and %q in the fix", tc.err, detail, fix, tc.detail, tc.fix)
		}
	}
}

// fakeDoctorGitLab answers GetRunner from a map; CheckToken with tokenErr;
// TokenExpiresAt from expires (never when absent) or expiryErr.
type fakeDoctorGitLab struct {
	probeErr, tokenErr error
	runners            map[int64]error // nil: exists
	expires            map[int64]time.Time
	expiryErr          error
}

func (f *fakeDoctorGitLab) TokenExpiresAt(_ context.Context, id int64) (*time.Time, error) {
	if f.expiryErr != nil {
		return nil, f.expiryErr
	}
	if at, ok := f.expires[id]; ok {
		return &at, nil
	}
	return nil, nil
}

func (f *fakeDoctorGitLab) Probe(context.Context) error      { return f.probeErr }
func (f *fakeDoctorGitLab) CheckToken(context.Context) error { return f.tokenErr }
func (f *fakeDoctorGitLab) GetRunner(_ context.Context, id int64) (*gitlab.RunnerInfo, error) {
	err, ok := f.runners[id]
	if !ok {
		return nil, fmt.Errorf("runner %d: %w", id, gitlab.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &gitlab.RunnerInfo{ID: id, Status: "online"}, nil
}

var doctorNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestCheckRunnersInSpecOrder(t *testing.T) {
	gl := &fakeDoctorGitLab{runners: map[int64]error{1: nil, 3: errors.New("runner 3: GitLab answered 500")}}
	// A runner with clusters is checked per cluster, by instance ID.
	runners := []*config.Runner{{Name: "a", RunnerID: 1}, {Name: "new"}, {Name: "gone", RunnerID: 2}, {Name: "broken", RunnerID: 3},
		{Name: "build", Cluster: "eu-1", RunnerID: 1}, {Name: "build", Cluster: "us-1", RunnerID: 2, Index: 4, ClusterIndex: 1}}
	rc := runnerChecks{c: gl, schedule: rotationSchedule{within: 720 * time.Hour, every: 168 * time.Hour}, now: func() time.Time { return doctorNow }, expiry: true}
	got := rc.run(context.Background(), runners)
	want := []struct{ check, status, detail string }{
		{"runner/a", checkOK, "runner 1 exists (online)"},
		{"expiry/a", checkOK, "the token never expires"},
		{"runner/new", checkWarn, "not created: no runnerID in runnerctl.yaml"},
		{"expiry/new", checkSkipped, "not created"},
		{"runner/gone", checkFail, "runner 2 does not exist in GitLab (or the token may not see it)"},
		{"expiry/gone", checkSkipped, "runner/gone failed"},
		{"runner/broken", checkFail, "runner 3: GitLab answered 500"},
		{"expiry/broken", checkSkipped, "runner/broken failed"},
		{"runner/build@eu-1", checkOK, "runner 1 exists (online)"},
		{"expiry/build@eu-1", checkOK, "the token never expires"},
		{"runner/build@us-1", checkFail, "runner 2 does not exist in GitLab (or the token may not see it)"},
		{"expiry/build@us-1", checkSkipped, "runner/build@us-1 failed"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Check != w.check || got[i].Status != w.status || got[i].Detail != w.detail {
			t.Errorf("result %d = %+v, want %+v", i, got[i], w)
		}
		if got[i].Status != checkOK && got[i].Status != checkSkipped && got[i].Fix == "" {
			t.Errorf("result %d (%s) has no fix", i, got[i].Status)
		}
	}
	if fix := got[10].Fix; !strings.Contains(fix, "runnerctl init --name build@us-1 --recreate") || !strings.Contains(fix, "runners[4].clusters[1].runnerID") {
		t.Errorf("fix of a cluster's missing runner = %q", fix)
	}
}

// TestCheckExpiry: each runner's token against a rotation scheduled weekly
// with a 720h window, on a fixed clock.
func TestCheckExpiry(t *testing.T) {
	sched := rotationSchedule{within: 720 * time.Hour, every: 168 * time.Hour}
	for _, tc := range []struct {
		name           string
		left           time.Duration // until expiry; 0 with never
		never          bool
		err            error
		status, detail string
		fix            string
	}{
		{name: "never", never: true, status: checkOK, detail: "the token never expires"},
		{name: "after the window", left: 720*time.Hour + time.Minute, status: checkOK,
			detail: "the token expires in 30d, after the scheduled rotation's window (720h)"},
		{name: "window's edge", left: 720 * time.Hour, status: checkWarn,
			detail: "token expires in 30d, inside the scheduled rotation's window (720h)",
			fix:    "nothing to do while the schedule runs: the next scheduled `runnerctl rotate-token --all --if-expires-within 720h` rotates it"},
		{name: "in the window", left: 200 * time.Hour, status: checkWarn,
			detail: "token expires in 8d, inside the scheduled rotation's window (720h)",
			fix:    "nothing to do while the schedule runs: the next scheduled `runnerctl rotate-token --all --if-expires-within 720h` rotates it"},
		{name: "interval's edge", left: 168 * time.Hour, status: checkWarn,
			detail: "token expires in 7d, before the next scheduled rotation could run (it runs every 168h)",
			fix:    "run `runnerctl rotate-token ci`"},
		{name: "before the next run", left: 47 * time.Hour, status: checkWarn,
			detail: "token expires in 47h, before the next scheduled rotation could run (it runs every 168h)",
			fix:    "run `runnerctl rotate-token ci`"},
		{name: "expires now", left: 0, status: checkFail,
			detail: "token expired 0s ago: the runner cannot authenticate to GitLab", fix: "run `runnerctl rotate-token ci`"},
		{name: "expired", left: -3 * time.Hour, status: checkFail,
			detail: "token expired 3h ago: the runner cannot authenticate to GitLab", fix: "run `runnerctl rotate-token ci`"},
		{name: "GraphQL fails", err: errors.New("token expiry of runner 1: GitLab GraphQL: boom"), status: checkFail,
			detail: "token expiry of runner 1: GitLab GraphQL: boom", fix: "check the token's access to this runner (GraphQL needs read_api or api), or try again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gl := &fakeDoctorGitLab{runners: map[int64]error{1: nil}, expiryErr: tc.err}
			if !tc.never && tc.err == nil {
				gl.expires = map[int64]time.Time{1: doctorNow.Add(tc.left)}
			}
			rc := runnerChecks{c: gl, schedule: sched, now: func() time.Time { return doctorNow }, expiry: true}
			got := rc.run(context.Background(), []*config.Runner{{Name: "ci", RunnerID: 1}})
			want := checkResult{Check: "expiry/ci", Status: tc.status, Detail: tc.detail, Fix: tc.fix}
			if len(got) != 2 || got[1] != want {
				t.Errorf("got %+v,\nwant %+v", got, want)
			}
		})
	}
}

func TestCheckGitLabSkipsWhatDependsOnAFailure(t *testing.T) {
	cfg := &config.Config{GitLab: config.GitLab{URL: "https://gitlab.example/"}, Runners: []config.Runner{{Name: "ci", RunnerID: 1}}}
	e := &factory{getenv: func(k string) string { return map[string]string{"GITLAB_TOKEN": "glpat-x"}[k] }}
	noToken := &factory{getenv: func(string) string { return "" }}
	refused := &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		e    *factory
		gl   *fakeDoctorGitLab
		want []string // status of gitlab, token, runner/ci, expiry/ci
	}{
		{"healthy", e, &fakeDoctorGitLab{runners: map[int64]error{1: nil}}, []string{checkOK, checkOK, checkOK, checkOK}},
		{"unreachable", e, &fakeDoctorGitLab{probeErr: refused}, []string{checkFail, checkSkipped, checkSkipped, checkSkipped}},
		{"unreachable, no token", noToken, &fakeDoctorGitLab{probeErr: refused}, []string{checkFail, checkFail, checkSkipped, checkSkipped}},
		{"no token", noToken, &fakeDoctorGitLab{}, []string{checkOK, checkFail, checkSkipped, checkSkipped}},
		{"revoked", e, &fakeDoctorGitLab{tokenErr: gitlab.ErrUnauthorized}, []string{checkOK, checkFail, checkSkipped, checkSkipped}},
		{"read_api only", e, &fakeDoctorGitLab{tokenErr: &gitlab.ScopeError{Have: []string{"read_api"}, Missing: []string{"create_runner or api"}},
			runners: map[int64]error{1: nil}}, []string{checkOK, checkFail, checkOK, checkOK}},
		// manage_runner reads runners but not GraphQL: no expiry check.
		{"manage_runner only", e, &fakeDoctorGitLab{tokenErr: &gitlab.ScopeError{Have: []string{"manage_runner"}, Missing: []string{"read_api"}},
			runners: map[int64]error{1: nil}}, []string{checkOK, checkFail, checkOK, checkSkipped}},
		{"create_runner only", e, &fakeDoctorGitLab{tokenErr: &gitlab.ScopeError{Have: []string{"create_runner"}, Missing: []string{"manage_runner or api"}}},
			[]string{checkOK, checkFail, checkSkipped, checkSkipped}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkGitLab(context.Background(), tc.e, cfg, &doctorOptions{}, func(gitlab.Options) (doctorGitLab, error) { return tc.gl, nil }, time.Now)
			var statuses []string
			for _, r := range got {
				statuses = append(statuses, r.Status)
			}
			if strings.Join(statuses, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("statuses = %v, want %v (%+v)", statuses, tc.want, got)
			}
		})
	}
}

// memStore is a store whose Check fails per key.
type memStore struct {
	checkErr map[string]error
	checked  []string
}

func (m *memStore) Backend() string { return "aws" }
func (m *memStore) Check(_ context.Context, loc secrets.Location) error {
	m.checked = append(m.checked, loc.Key)
	return m.checkErr[loc.Key]
}
func (m *memStore) Put(context.Context, secrets.Location, secrets.Token) error {
	return errors.New("no writes")
}
func (m *memStore) Get(context.Context, secrets.Location) (secrets.Token, error) {
	return secrets.Token{}, secrets.ErrNotFound
}
func (m *memStore) Close() error { return nil }

func TestCheckSecrets(t *testing.T) {
	cfg := &config.Config{
		Secrets: config.Secrets{Backend: config.BackendAWS, AWS: &config.AWS{Name: "gitlab/runners/{runner}"}},
		Runners: []config.Runner{{Name: "ci"}, {Name: "web"}},
	}
	e := &factory{stderr: &bytes.Buffer{}}
	open := func(s *memStore) func(context.Context, *config.Config, io.Writer) (store, error) {
		return func(context.Context, *config.Config, io.Writer) (store, error) { return s, nil }
	}

	ok := &memStore{}
	res := checkSecrets(context.Background(), e, cfg, open(ok))
	if res.Status != checkOK || !strings.Contains(res.Detail, "reachable and readable") || !strings.Contains(res.Detail, "no dry run") {
		t.Errorf("healthy aws: %+v; want ok, saying that write permission is not proven", res)
	}
	if strings.Join(ok.checked, ",") != "gitlab/runners/ci,gitlab/runners/web" {
		t.Errorf("checked %q, want every runner's location", ok.checked)
	}

	denied := &memStore{checkErr: map[string]error{"gitlab/runners/web": fmt.Errorf("aws: %w", secrets.ErrPermission)}}
	res = checkSecrets(context.Background(), e, cfg, open(denied))
	if res.Status != checkFail || !strings.Contains(res.Detail, "permission denied") || !strings.Contains(res.Fix, "create, update and read") {
		t.Errorf("permission denied: %+v", res)
	}

	// Bad credentials: the first location says it for all.
	auth := &memStore{checkErr: map[string]error{"gitlab/runners/ci": fmt.Errorf("aws: %w", secrets.ErrAuth)}}
	res = checkSecrets(context.Background(), e, cfg, open(auth))
	if res.Status != checkFail || len(auth.checked) != 1 || !strings.Contains(res.Fix, "AWS_PROFILE") {
		t.Errorf("bad credentials: %+v after checking %q", res, auth.checked)
	}

	failOpen := func(context.Context, *config.Config, io.Writer) (store, error) {
		return nil, &exitError{code: ExitUsage, msg: `secrets backend "aws": backend configuration: no region`}
	}
	res = checkSecrets(context.Background(), e, cfg, failOpen)
	if res.Status != checkFail || !strings.Contains(res.Fix, "secrets.aws") {
		t.Errorf("unconfigurable backend: %+v", res)
	}
}

type fakeRepo struct {
	paths []string
	err   error
}

func (f fakeRepo) Uncommitted(context.Context) ([]string, error) { return f.paths, f.err }

func TestCheckRepo(t *testing.T) {
	ctx := context.Background()
	if r := checkRepo(ctx, fakeRepo{}, config.EngineArgoCD); r.Status != checkOK {
		t.Errorf("clean: %+v", r)
	}
	if r := checkRepo(ctx, fakeRepo{err: fmt.Errorf("/x: %w", gitops.ErrNotRepo)}, config.EngineArgoCD); r.Status != checkSkipped || r.Detail != "not a git repository" {
		t.Errorf("not a repository: %+v", r)
	}
	r := checkRepo(ctx, fakeRepo{paths: []string{"a", "b", "c", "d", "e", "f", "g"}}, config.EngineArgoCD)
	if r.Status != checkWarn || r.Detail != "7 uncommitted change(s): a, b, c, d, e and 2 more" || !strings.Contains(r.Fix, "(ArgoCD deploys only what is pushed)") {
		t.Errorf("dirty: %+v", r)
	}
	// The hint names the engine that deploys the files.
	r = checkRepo(ctx, fakeRepo{paths: []string{"a"}}, config.EngineFlux)
	if r.Status != checkWarn || !strings.Contains(r.Fix, "(Flux deploys only what is pushed)") {
		t.Errorf("dirty, under flux: %+v", r)
	}
}

func TestWriteChecks(t *testing.T) {
	results := []checkResult{
		{Check: "gitlab", Status: checkOK, Detail: "https://gitlab.example/ answers"},
		{Check: "token", Status: checkFail, Detail: "no GitLab personal access token", Fix: "export GITLAB_TOKEN"},
		{Check: "runner/long-name", Status: checkWarn, Detail: "not created", Fix: "run `runnerctl init`"},
		{Check: "chart", Status: checkSkipped, Detail: "--offline"},
	}
	var b bytes.Buffer
	if err := writeChecks(&b, results, false, false); err != nil {
		t.Fatal(err)
	}
	want := `ok       gitlab            https://gitlab.example/ answers
FAIL     token             no GitLab personal access token; fix: export GITLAB_TOKEN
warn     runner/long-name  not created; fix: run ` + "`runnerctl init`" + `
skipped  chart             --offline
`
	if b.String() != want {
		t.Errorf("text output:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := writeChecks(&b, results, true, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(b.String()); !strings.HasPrefix(got, "FAIL") || strings.Count(got, "\n") != 0 {
		t.Errorf("quiet output %q, want the failure only", got)
	}
}

func TestCheckChart(t *testing.T) {
	ch := config.Chart{RepoURL: "https://charts.example.com", Name: "gitlab-runner", Version: "0.86.0"}
	e := &factory{stderr: &bytes.Buffer{}}
	ask := func(a kuberemote.ChartAnswer, err error) func(context.Context, kuberemote.ChartQuery, io.Writer) (kuberemote.ChartAnswer, error) {
		return func(_ context.Context, q kuberemote.ChartQuery, _ io.Writer) (kuberemote.ChartAnswer, error) {
			if q != (kuberemote.ChartQuery{RepoURL: ch.RepoURL, Chart: ch.Name, Version: ch.Version}) {
				t.Errorf("asked %+v", q)
			}
			return a, err
		}
	}
	for _, tc := range []struct {
		name           string
		a              kuberemote.ChartAnswer
		err            error
		status, detail string
		fix            string
	}{
		{"found", kuberemote.ChartAnswer{Found: true, ChartExists: true, Latest: []string{"0.86.0"}}, nil,
			checkOK, "chart gitlab-runner 0.86.0 found in https://charts.example.com", ""},
		{"missing version", kuberemote.ChartAnswer{ChartExists: true, Latest: []string{"0.85.1", "0.85.0"}}, nil,
			checkFail, "chart gitlab-runner 0.86.0 not found in https://charts.example.com (newest: 0.85.1, 0.85.0)", "the newest is 0.85.1"},
		{"missing chart", kuberemote.ChartAnswer{}, nil,
			checkFail, "no chart gitlab-runner in https://charts.example.com", "chart.name"},
		{"no helper", kuberemote.ChartAnswer{}, fmt.Errorf("%w next to runnerctl or on PATH", kuberemote.ErrNoHelper),
			checkFail, "runnerctl-kube not found", "install runnerctl-kube next to runnerctl (go install ./cmd/...)"},
		{"unreachable", kuberemote.ChartAnswer{}, &wrappedKind{"https://charts.example.com: dial tcp: i/o timeout", kuberemote.ErrUnreachable},
			checkWarn, "cannot reach the chart repository: https://charts.example.com: dial tcp: i/o timeout", "HTTPS_PROXY"},
		{"404", kuberemote.ChartAnswer{}, &wrappedKind{"https://charts.example.com: HTTP 404", kuberemote.ErrNotFound},
			checkFail, "HTTP 404", "where index.yaml is"},
		{"old helper", kuberemote.ChartAnswer{}, &wrappedKind{"runnerctl speaks protocol 2 and runnerctl-kube protocol 1: install both from the same release", kuberemote.ErrConfig},
			checkFail, "protocol 1", "from the same release"},
		{"other", kuberemote.ChartAnswer{}, errors.New("chart repository x: invalid index.yaml: boom"),
			checkFail, "invalid index.yaml", "health"},
	} {
		res := checkChart(context.Background(), e, ch, config.EngineArgoCD, ask(tc.a, tc.err))
		if res.Check != "chart" || res.Status != tc.status || !strings.Contains(res.Detail, tc.detail) || !strings.Contains(res.Fix, tc.fix) || (tc.fix == "") != (res.Fix == "") {
			t.Errorf("%s: %+v; want %s with %q, fix %q", tc.name, res, tc.status, tc.detail, tc.fix)
		}
	}
	// Who must reach an unreachable repository is the engine's fetcher.
	unreachable := &wrappedKind{"https://charts.example.com: dial tcp: i/o timeout", kuberemote.ErrUnreachable}
	for engine, want := range map[string]string{config.EngineArgoCD: "; ArgoCD must reach it too", config.EngineFlux: "; Flux's source-controller must reach it too"} {
		if res := checkChart(context.Background(), e, ch, engine, ask(kuberemote.ChartAnswer{}, unreachable)); !strings.HasSuffix(res.Fix, want) {
			t.Errorf("unreachable under %s: fix %q, want it to end %q", engine, res.Fix, want)
		}
	}
}

type wrappedKind struct {
	msg  string
	kind error
}

func (e *wrappedKind) Error() string { return e.msg }
func (e *wrappedKind) Unwrap() error { return e.kind }
