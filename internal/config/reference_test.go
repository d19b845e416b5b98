package config_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

func TestReferenceUpToDate(t *testing.T) {
	const path = "../../docs/config.md"
	got := config.Reference()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run go test ./internal/config -update", path)
	}
	for _, field := range []string{"`runners[].networkPolicy.flavor`", "`secrets.vault.property`", "`gitops.paths.values`"} {
		if !bytes.Contains(got, []byte(field)) {
			t.Errorf("reference lacks %s", field)
		}
	}
}

// TestEveryFieldDocumented fails when a field is added without a doc tag.
func TestEveryFieldDocumented(t *testing.T) {
	for _, line := range bytes.Split(config.Reference(), []byte("\n")) {
		if bytes.HasSuffix(line, []byte("|  |")) {
			t.Errorf("undocumented field: %s", line)
		}
	}
}
