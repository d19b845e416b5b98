package fake_test

import (
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake"
	fakeaws "github.com/runnerctl/runnerctl/internal/fake/aws"
	fakegcp "github.com/runnerctl/runnerctl/internal/fake/gcp"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakeinfisical "github.com/runnerctl/runnerctl/internal/fake/infisical"
	fakekube "github.com/runnerctl/runnerctl/internal/fake/kube"
	fakestore "github.com/runnerctl/runnerctl/internal/fake/store"
	fakevault "github.com/runnerctl/runnerctl/internal/fake/vault"
)

// Every store the fake-store command starts is a Store.
var _ = []fakestore.Store{fakevault.ScriptStore{}, fakeinfisical.ScriptStore{}, fakeaws.ScriptStore{}, fakegcp.ScriptStore{}}

// TestServers checks that every fake is a fake.Server whose Ops are the
// names its fault injector takes: FailNext and Delay panic on any other.
func TestServers(t *testing.T) {
	servers := map[string]fake.Server{
		"aws": fakeaws.New(), "gcp": fakegcp.New(), "gitlab": fakegitlab.New(fakegitlab.Options{}),
		"infisical": fakeinfisical.New(), "kube": fakekube.New(), "vault": fakevault.New(),
	}
	for name, s := range servers {
		t.Run(name, func(t *testing.T) {
			defer s.Close()
			if len(s.Ops()) == 0 {
				t.Fatal("no operations")
			}
			for _, op := range s.Ops() {
				s.FailNext(op, 503, 1)
				s.Delay(op, time.Second)
			}
			s.ClearFaults()
			if got := s.Requests(); len(got) != 0 {
				t.Fatalf("requests before any was sent: %q", got)
			}
		})
	}
}
