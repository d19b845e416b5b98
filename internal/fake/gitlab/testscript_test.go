package gitlab_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	gl "gitlab.com/gitlab-org/api/client-go/v2"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

// glcreate TYPE [ID] creates a runner through the client library, as a
// runnerctl subprocess would: it only knows $FAKE_GITLAB_URL,
// $FAKE_GITLAB_CA_FILE and $GITLAB_TOKEN.
func glcreate(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: glcreate TYPE [ID]")
	}
	hc := &http.Client{Transport: &http.Transport{}}
	if ca := ts.Getenv(fake.EnvCAFile); ca != "" {
		pem, err := os.ReadFile(ca)
		ts.Check(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			ts.Fatalf("no certificate in %s", ca)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	c, err := gl.NewClient(ts.Getenv("GITLAB_TOKEN"), gl.WithBaseURL(ts.Getenv(fake.EnvURL)), gl.WithoutRetries(), gl.WithHTTPClient(hc))
	ts.Check(err)
	o := &gl.CreateUserRunnerOptions{RunnerType: &args[0]}
	if len(args) == 2 {
		id, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		switch args[0] {
		case "group_type":
			o.GroupID = &id
		case "project_type":
			o.ProjectID = &id
		}
	}
	r, _, err := c.Users.CreateUserRunner(o)
	if err != nil {
		fmt.Fprintln(ts.Stderr(), err)
		if !neg {
			ts.Fatalf("glcreate: %v", err)
		}
		return
	}
	if neg {
		ts.Fatalf("glcreate succeeded")
	}
	fmt.Fprintf(ts.Stdout(), "id=%d token=%s\n", r.ID, r.Token)
}

var cmds = map[string]func(*testscript.TestScript, bool, []string){
	"fake-gitlab": fake.Cmd,
	"glcreate":    glcreate,
}

func TestScriptStart(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Cmds: cmds})
}
