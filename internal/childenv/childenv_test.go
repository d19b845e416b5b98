package childenv

import (
	"slices"
	"testing"
)

func TestKeepAndDrop(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"GITLAB_TOKEN=glpat-x",
		"AWS_PROFILE=ci",
		"AWS_REGION=eu-west-1",
		"AWSOME=1",
		"HOME=/home/u",
		"VAULT_TOKEN=hvs.x",
		"EMPTY=",
		"=C:=C:\\work",
		"NOEQUALS",
		"PATH=/bin", // a duplicate: exec.Cmd uses the last, so both stay in order
	}
	r := Rules{Names: []string{"PATH", "HOME", "EMPTY"}, Prefixes: []string{"AWS_"}}
	kept := filter(environ, r, "linux", true)
	want := []string{"PATH=/usr/bin", "AWS_PROFILE=ci", "AWS_REGION=eu-west-1", "HOME=/home/u", "EMPTY=", "PATH=/bin"}
	if !slices.Equal(kept, want) {
		t.Errorf("keep:\n got %q\nwant %q", kept, want)
	}
	dropped := filter(environ, r, "linux", false)
	want = []string{"GITLAB_TOKEN=glpat-x", "AWSOME=1", "VAULT_TOKEN=hvs.x", "=C:=C:\\work", "NOEQUALS"}
	if !slices.Equal(dropped, want) {
		t.Errorf("drop:\n got %q\nwant %q", dropped, want)
	}
}

// A child given nothing must get an empty environment, never the parent's:
// exec.Cmd reads a nil Env as "inherit everything".
func TestNeverNil(t *testing.T) {
	if Keep(nil, Rules{}) == nil || Drop(nil, Rules{}) == nil {
		t.Fatal("nil environment: exec.Cmd would pass the parent's whole environment")
	}
	if Keep([]string{"GITLAB_TOKEN=x"}, Rules{Names: []string{"PATH"}}) == nil {
		t.Fatal("nil environment when nothing is kept")
	}
}

// Windows compares variable names ignoring case: a denylist that missed
// "Gitlab_Token" there would leak it.
func TestCaseOnWindows(t *testing.T) {
	environ := []string{"Path=C:\\Windows", "Gitlab_Token=glpat-x", "aws_profile=ci", "SystemRoot=C:\\Windows"}
	r := Rules{Names: []string{"PATH", "GITLAB_TOKEN", "SYSTEMROOT"}, Prefixes: []string{"AWS_"}}
	if got, want := filter(environ, r, "windows", false), []string{}; !slices.Equal(got, want) {
		t.Errorf("windows drop: got %q, want %q", got, want)
	}
	if got, want := filter(environ, r, "linux", false), environ; !slices.Equal(got, want) {
		t.Errorf("linux drop: got %q, want %q (names are case-sensitive there)", got, want)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if r.MatchesOn(goos, "AWS") || r.MatchesOn(goos, "") {
			t.Errorf("%s: a name shorter than the prefix matched it", goos)
		}
	}
}

func TestVarName(t *testing.T) {
	for kv, want := range map[string]string{
		"A=b":          "A",
		"A=b=c":        "A",
		"A=":           "A",
		"=C:=C:\\work": "=C:",
		"NOEQUALS":     "NOEQUALS",
		"":             "",
	} {
		if got := varName(kv); got != want {
			t.Errorf("varName(%q) = %q, want %q", kv, got, want)
		}
	}
}

func TestPlusCopies(t *testing.T) {
	base := Rules{Names: make([]string, 1, 8), Prefixes: []string{"A_"}}
	base.Names[0] = "X"
	a := base.Plus(Rules{Names: []string{"Y"}})
	b := base.Plus(Rules{Names: []string{"Z"}})
	if !slices.Equal(a.Names, []string{"X", "Y"}) || !slices.Equal(b.Names, []string{"X", "Z"}) || len(base.Names) != 1 {
		t.Fatalf("Plus shares its receiver's storage: a=%q b=%q base=%q", a.Names, b.Names, base.Names)
	}
}

func TestCredentialsHoldRunnerctlSecrets(t *testing.T) {
	c := Credentials()
	for _, n := range []string{"GITLAB_TOKEN", "VAULT_TOKEN", "VAULT_SECRET_ID", "VAULT_ROLE_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "INFISICAL_TOKEN"} {
		if !c.Matches(n) {
			t.Errorf("Credentials does not name %s", n)
		}
	}
	// Cloud identities stay for exec plugins and git credential helpers.
	for _, n := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "GOOGLE_APPLICATION_CREDENTIALS", "VAULT_ADDR", "KUBECONFIG", "HOME"} {
		if c.Matches(n) {
			t.Errorf("Credentials names %s", n)
		}
	}
}
