package render

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestEncodeCacheExternalSecret: the cache's encoding of an ExternalSecret
// (encoded once with a marker, each key spliced in) and of a file of
// several documents is byte for byte what encoding them whole gives, for
// keys YAML must quote or escape, and a key that looks like the marker.
func TestEncodeCacheExternalSecret(t *testing.T) {
	b, err := loadBases()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(key string) externalSecret {
		es := b.TokenExternalSecret
		es.Metadata.Name = "gitlab-runner-ci-token"
		es.Spec.Data = []esData{{SecretKey: "runnerToken", RemoteRef: esRemoteRef{Key: key, Property: "token"}}}
		return es
	}
	var c encodeCache
	for _, key := range []string{
		"gitlab/runners/ci-eu-1", "gitlab/runners/ci-us-1", "", "true", "123", "null", "~", "a: b", "#x", " lead", "trail ",
		"'q'", `"dq"`, "é/ü", "{x}", "[y]", "- z", "*alias", "&anchor", "!tag", "%pct", "@at", "`bt`", "a\\b",
		keyMarker, "x" + keyMarker, "a very long key " + string(bytes.Repeat([]byte("abc/"), 60)),
	} {
		es := mk(key)
		want, err := marshalDocs("", es)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.doc(es, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("key %q: cached\n%s\nwhole\n%s", key, got, want)
		}
	}
	// Every key was spliced into one encoding.
	if len(c.entries) != 1 {
		t.Errorf("%d documents encoded whole, want 1", len(c.entries))
	}
	// The marker elsewhere in the object: encoded whole, correctly.
	odd := mk("k")
	odd.Metadata.Labels = map[string]string{"x": keyMarker}
	want, err := marshalDocs("", odd)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.doc(odd, nil); err != nil || !bytes.Equal(got, want) {
		t.Errorf("marker in a label: %v\n%s\nwant\n%s", err, got, want)
	}
	// A file of two documents: the separator yaml/v3 writes.
	a, z := mk("first"), mk("second")
	want, err = marshalDocs("", a, z)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.encode(pendingFile{docs: []any{a, z}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("two documents: cached\n%s\nwhole\n%s", got, want)
	}
}

// TestTypedTemplateIsTemplateNode: an Application with nothing to escape
// gives the same template bytes through the typed shortcut as through the
// yaml.Node that a patched one takes, with each destination form, and the
// shortcut refuses what the node path refuses.
func TestTypedTemplateIsTemplateNode(t *testing.T) {
	b, err := loadBases()
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range []appDestination{{Server: serverPlaceholder}, {Name: destinationNamePlaceholder}, {Server: serverPlaceholder, Name: destinationNamePlaceholder}} {
		app := b.Application
		app.Metadata = objectMeta{Name: "gitlab-runner-ci-" + clusterPlaceholder, Namespace: "argocd", Labels: map[string]string{runnerLabel: "ci"}}
		app.Spec.Destination = dest
		app.Spec.Destination.Namespace = "gitlab-runner"
		app.Spec.Sources = slices.Clone(app.Spec.Sources)
		for i := range app.Spec.Sources {
			s := &app.Spec.Sources[i]
			if s.Helm != nil {
				h := *s.Helm
				h.ValueFiles = []string{"$values/values/gitlab-runner-ci-" + clusterPlaceholder + ".yaml"}
				s.Helm = &h
			}
			if s.Directory != nil {
				d := *s.Directory
				d.Include = "{gitlab-runner-ci-" + clusterPlaceholder + "-external-secret.yaml,gitlab-runner-ci-" + clusterPlaceholder + "-network-policy.yaml}"
				s.Directory = &d
			}
		}
		if hasTemplateText(reflect.ValueOf(app)) {
			t.Fatalf("%+v: the fixture holds {{", dest)
		}
		typed, err := typedTemplate(app, "{{.cluster}}")
		if err != nil {
			t.Fatal(err)
		}
		node, err := templateNode(app, "{{.cluster}}")
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalDocs("", typed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshalDocs("", node)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: typed\n%s\nnode\n%s", dest, got, want)
		}
		if !strings.Contains(string(got), "{{.cluster}}") {
			t.Errorf("%+v: no parameter in\n%s", dest, got)
		}
		// Nothing of the base's sources changed.
		if slices.ContainsFunc(b.Application.Spec.Sources, func(s appSource) bool {
			return s.Helm != nil && slices.ContainsFunc(s.Helm.ValueFiles, func(f string) bool { return strings.Contains(f, "{{") })
		}) {
			t.Fatal("typedTemplate changed the base's sources")
		}
	}
	stray := b.Application
	stray.Metadata.Name = "no-placeholder"
	if _, err := typedTemplate(stray, "{{.cluster}}"); err == nil {
		t.Error("a template without the cluster's name in metadata.name was accepted")
	}
	if !hasTemplateText(reflect.ValueOf(map[string]any{"a": []string{"x", "{{ y }}"}})) {
		t.Error("hasTemplateText missed a {{ in a map's list")
	}
}

// TestPlainPathIsWhatYAMLWrites: every key plainPath accepts is written
// by the encoder exactly as it is, unquoted; and it refuses the keys the
// encoder would quote.
func TestPlainPathIsWhatYAMLWrites(t *testing.T) {
	keys := []string{
		"gitlab/runners/ci-eu-1", "/gitlab/runners/ci/RUNNER_TOKEN", "a/1", "1/2", "x/y.z", "a/b/", "2001/01/01",
		"true/false", "null/~", "0x1f/0o7", "1e3/4", "a/.inf", "a/-b", "A_B/C.D-E",
	}
	for _, a := range "azAZ09/_.-" {
		for _, b := range "azAZ09/_.-" {
			keys = append(keys, "k"+string(a)+"/"+string(b), string(a)+"/"+string(b))
		}
	}
	for _, key := range keys {
		out, err := yaml.Marshal(struct {
			Key string `yaml:"key"`
		}{key})
		if err != nil {
			t.Fatal(err)
		}
		plain := string(out) == "key: "+key+"\n"
		if plainPath(key) && !plain {
			t.Errorf("plainPath(%q) but the encoder writes %q", key, out)
		}
	}
	for _, key := range []string{"-a/b", ".a/b", "a b/c", "a:/b", "a/#b", "nokey", "a/é", "a/'b'", ""} {
		if key != "" && plainPath(key) {
			t.Errorf("plainPath(%q) is true", key)
		}
	}
}
