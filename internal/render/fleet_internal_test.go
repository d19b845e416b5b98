package render

import (
	"bytes"
	"testing"
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
