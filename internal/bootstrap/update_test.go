package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const marker = "runnerctl-create-0123456789abcdef"

// existingHarness has runner 7 in GitLab, created by runnerctl with info's
// settings, and its token stored.
func existingHarness(t *testing.T, info gitlab.RunnerInfo) *harness {
	h := newHarness(t)
	info.ID = 7
	h.gl.existing[7] = true
	h.gl.infos = map[int64]*gitlab.RunnerInfo{7: &info}
	h.store.data = map[string]secrets.Token{"gitlab/ci#token": secrets.NewToken("glrt-stored")}
	return h
}

// fullReg is a defaulted registration, as config.ApplyDefaults leaves it.
func fullReg(scope string, mod func(*config.Registration)) *config.Runner {
	untagged := false
	reg := &config.Registration{Scope: config.Scope{Type: scope}, Description: "CI runner", Tags: []string{"k8s", "linux"},
		RunUntagged: &untagged, AccessLevel: "ref_protected", MaximumTimeout: 3600, MaintenanceNote: "owned by platform"}
	switch scope {
	case config.ScopeGroup:
		reg.Scope.Path = "my-org"
	case config.ScopeProject:
		reg.Scope.Path = "my-org/my-app"
	}
	if mod != nil {
		mod(reg)
	}
	return &config.Runner{Name: "ci", RunnerID: 7, Registration: reg}
}

// current is what GitLab holds for fullReg's runner right after init
// created it.
func current(typ string) gitlab.RunnerInfo {
	return gitlab.RunnerInfo{Type: typ, Description: "CI runner", TagList: []string{"linux", "k8s"}, AccessLevel: "ref_protected",
		MaximumTimeout: 3600, MaintenanceNote: "owned by platform\n" + marker}
}

// The same settings again: no update at all (tag order and the create
// marker do not count), the files are written.
func TestExistingRunnerUpToDate(t *testing.T) {
	h := existingHarness(t, current("instance_type"))
	out, err := h.run(context.Background(), fullReg(config.ScopeInstance, nil), false)
	if err != nil || len(out.Updated) != 0 || len(h.gl.updates) != 0 || h.written != 1 {
		t.Fatalf("err %v out %+v updates %+v written %d", err, out, h.gl.updates, h.written)
	}
	if strings.Contains(h.steps.String(), "updating") {
		t.Errorf("steps:\n%s", h.steps.String())
	}
}

func TestExistingRunnerUpdated(t *testing.T) {
	h := existingHarness(t, current("instance_type"))
	r := fullReg(config.ScopeInstance, func(reg *config.Registration) {
		reg.Tags = append(reg.Tags, "arm64")
		reg.Paused = true
	})
	out, err := h.run(context.Background(), r, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tags", "paused"}; !reflect.DeepEqual(out.Updated, want) || out.Created {
		t.Errorf("outcome %+v, want updated %v", out, want)
	}
	if !strings.Contains(h.steps.String(), `updating runner "ci" (id 7) in GitLab: tags, paused`+"\n") {
		t.Errorf("steps:\n%s", h.steps.String())
	}
	// One PUT, with every setting (not only the changed ones), and the
	// marker kept on the note.
	want := gitlab.RunnerSpec{Target: gitlab.Target{Type: "instance_type"}, Description: "CI runner", Tags: []string{"k8s", "linux", "arm64"},
		AccessLevel: "ref_protected", MaximumTimeout: 3600, Paused: true, MaintenanceNote: "owned by platform\n" + marker}
	if len(h.gl.updates) != 1 || h.gl.updates[0].id != 7 || !reflect.DeepEqual(h.gl.updates[0].spec, want) {
		t.Fatalf("updates %+v\nwant %+v", h.gl.updates, want)
	}
	if h.written != 1 || len(h.gl.created) != 0 {
		t.Errorf("written %d created %v", h.written, h.gl.created)
	}

	// Running again changes nothing in GitLab.
	out, err = h.run(context.Background(), r, false)
	if err != nil || len(out.Updated) != 0 || len(h.gl.updates) != 1 {
		t.Fatalf("re-run: %v %+v updates %d", err, out, len(h.gl.updates))
	}
}

func TestEverySettingIsCompared(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scope string
		mod   func(*config.Registration)
		want  []string
	}{
		{"description", config.ScopeInstance, func(r *config.Registration) { r.Description = "other" }, []string{"description"}},
		{"tags removed", config.ScopeInstance, func(r *config.Registration) { r.Tags = nil; *r.RunUntagged = true }, []string{"tags", "runUntagged"}},
		{"tag order", config.ScopeInstance, func(r *config.Registration) { r.Tags = []string{"linux", "k8s", "k8s"} }, nil},
		{"access level", config.ScopeInstance, func(r *config.Registration) { r.AccessLevel = "not_protected" }, []string{"accessLevel"}},
		{"maximum timeout removed", config.ScopeInstance, func(r *config.Registration) { r.MaximumTimeout = 0 }, []string{"maximumTimeout"}},
		{"note", config.ScopeInstance, func(r *config.Registration) { r.MaintenanceNote = "" }, []string{"maintenanceNote"}},
		{"locked, instance", config.ScopeInstance, func(r *config.Registration) { r.Locked = true }, nil},
		{"locked, project", config.ScopeProject, func(r *config.Registration) { r.Locked = true }, []string{"locked"}},
		{"everything", config.ScopeProject, func(r *config.Registration) {
			*r = config.Registration{Scope: r.Scope, Description: "x", Tags: []string{"a"}, RunUntagged: new(true), Locked: true,
				AccessLevel: "not_protected", MaximumTimeout: 600, Paused: true, MaintenanceNote: "y"}
		}, []string{"description", "tags", "runUntagged", "locked", "accessLevel", "maximumTimeout", "paused", "maintenanceNote"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.scope + "_type"
			h := existingHarness(t, current(typ))
			h.gl.projectRunners = map[int64][]int64{9: {7}}
			out, err := h.run(context.Background(), fullReg(tc.scope, tc.mod), false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.Updated, tc.want) {
				t.Errorf("updated %v, want %v", out.Updated, tc.want)
			}
			if (len(h.gl.updates) == 1) != (len(tc.want) > 0) {
				t.Errorf("%d updates", len(h.gl.updates))
			}
		})
	}
}

// A runner made by hand (no marker) gets the note as it is; a note too
// long to keep the marker loses it.
func TestUpdatedNoteAndTheMarker(t *testing.T) {
	info := current("instance_type")
	info.MaintenanceNote = "by hand"
	h := existingHarness(t, info)
	if _, err := h.run(context.Background(), fullReg(config.ScopeInstance, nil), false); err != nil {
		t.Fatal(err)
	}
	if got := h.gl.updates[0].spec.MaintenanceNote; got != "owned by platform" {
		t.Errorf("note %q", got)
	}

	h = existingHarness(t, current("instance_type"))
	long := strings.Repeat("n", 1000)
	if _, err := h.run(context.Background(), fullReg(config.ScopeInstance, func(r *config.Registration) { r.MaintenanceNote = long }), false); err != nil {
		t.Fatal(err)
	}
	if got := h.gl.updates[0].spec.MaintenanceNote; got != long {
		t.Errorf("note of %d characters, want the 1000 given", len(got))
	}
}

// A note GitLab does not show (the token may not update the runner) is
// not a difference.
func TestHiddenNoteIsNotCompared(t *testing.T) {
	info := current("instance_type")
	info.MaintenanceNote, info.NoteHidden = "", true
	h := existingHarness(t, info)
	out, err := h.run(context.Background(), fullReg(config.ScopeInstance, nil), false)
	if err != nil || len(out.Updated) != 0 || len(h.gl.updates) != 0 {
		t.Fatalf("err %v out %+v updates %v", err, out, h.gl.updates)
	}
}

// GitLab cannot move a runner to another scope: a changed scope is refused
// before anything happens.
func TestChangedScopeIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, scope string
		info        gitlab.RunnerInfo
		projects    map[int64][]int64
		want        string
	}{
		{"type", config.ScopeInstance, current("project_type"), nil,
			`runner "ci" (id 7) is a project runner in GitLab, but runnerctl.yaml (or the flags) ask for scope instance, and GitLab cannot change a runner's scope`},
		{"group", config.ScopeGroup, func() gitlab.RunnerInfo { i := current("group_type"); i.GroupIDs = []int64{8}; return i }(), nil,
			`runner "ci" (id 7) is a runner of another group in GitLab, but runnerctl.yaml (or the flags) ask for scope group "my-org"`},
		{"project", config.ScopeProject, current("project_type"), map[int64][]int64{9: {6}},
			`runner "ci" (id 7) is not a runner of that project in GitLab, but runnerctl.yaml (or the flags) ask for scope project "my-org/my-app"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := existingHarness(t, tc.info)
			h.gl.projectRunners = tc.projects
			h.store.getErr = errors.New("the store must not be asked")
			_, err := h.run(context.Background(), fullReg(tc.scope, func(r *config.Registration) { r.Paused = true }), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if len(h.gl.updates) != 0 || h.written != 0 || len(h.gl.created) != 0 {
				t.Errorf("updates %v written %d created %v", h.gl.updates, h.written, h.gl.created)
			}
		})
	}
	// The same group or project is fine; an unreadable group list is no answer.
	for _, tc := range []struct {
		scope string
		info  gitlab.RunnerInfo
	}{
		{config.ScopeGroup, func() gitlab.RunnerInfo { i := current("group_type"); i.GroupIDs = []int64{7}; return i }()},
		{config.ScopeGroup, current("group_type")},
		{config.ScopeProject, current("project_type")},
	} {
		h := existingHarness(t, tc.info)
		h.gl.projectRunners = map[int64][]int64{9: {3, 7}}
		if _, err := h.run(context.Background(), fullReg(tc.scope, nil), false); err != nil {
			t.Errorf("%s: %v", tc.scope, err)
		}
	}
}

// The token is checked before GitLab is changed: a runner whose token is
// missing is not updated.
func TestNoUpdateWithoutStoredToken(t *testing.T) {
	h := existingHarness(t, current("instance_type"))
	h.store.data = nil
	_, err := h.run(context.Background(), fullReg(config.ScopeInstance, func(r *config.Registration) { r.Paused = true }), false)
	if !errors.Is(err, errNoToken) || len(h.gl.updates) != 0 || h.written != 0 {
		t.Fatalf("err %v updates %v written %d", err, h.gl.updates, h.written)
	}
}

func TestFailedUpdateWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"refused", fmt.Errorf("update runner 7: %w", &gitlab.ValidationError{Fields: []gitlab.FieldError{
			{Field: "tags_list", Messages: []string{"Too many tags specified. Please limit the number of tags to 50"}}}}),
			[]string{`GitLab refused the settings of runner "ci" (id 7): registration.tags (GitLab's tags_list): Too many tags specified. Please limit the number of tags to 50;`,
				"nothing was changed in GitLab, runnerctl.yaml or the generated files"}},
		{"uncertain", fmt.Errorf("update runner 7: GitLab answered 502 Bad Gateway (%w)", gitlab.ErrUncertain),
			[]string{`updating runner "ci" (id 7) in GitLab failed: update runner 7: GitLab answered 502 Bad Gateway (GitLab may or may not have made the change)`,
				"run init again (updating is safe to repeat)"}},
		{"forbidden", errors.New("update runner 7: forbidden by GitLab (403): {}"),
			[]string{`updating runner "ci" (id 7) in GitLab failed: update runner 7: forbidden by GitLab (403): {}; nothing was changed in GitLab, runnerctl.yaml or the generated files`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := existingHarness(t, current("instance_type"))
			h.gl.updateErr = tc.err
			_, err := h.run(context.Background(), fullReg(config.ScopeInstance, func(r *config.Registration) { r.Paused = true }), false)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n %v\nlacks\n %s", err, w)
				}
			}
			if h.written != 0 {
				t.Errorf("files written %d times", h.written)
			}
		})
	}
}

func TestFilesFailureAfterUpdate(t *testing.T) {
	h := existingHarness(t, current("instance_type"))
	h.writeErr = errors.New("disk full")
	out, err := h.run(context.Background(), fullReg(config.ScopeInstance, func(r *config.Registration) { r.Paused = true }), false)
	if err == nil || !strings.Contains(err.Error(), `runner "ci" (id 7) is updated in GitLab (paused), but the files could not be written; run init again`) {
		t.Fatalf("error %v", err)
	}
	if !reflect.DeepEqual(out.Updated, []string{"paused"}) {
		t.Errorf("outcome %+v", out)
	}
}
