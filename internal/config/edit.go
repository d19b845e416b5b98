package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Decode strictly decodes runnerctl.yaml as written: no defaults, no
// validation. init edits this form so that what it saves stays as short as
// what the user wrote.
func Decode(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &cfg, nil
}

// Update returns existing (the bytes of runnerctl.yaml, possibly empty) with
// the content of cfg. Top-level sections and runners that did not change
// keep their original text, comments included; changed ones are replaced.
func Update(existing []byte, cfg *Config) ([]byte, error) {
	fresh, err := Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(existing)) == 0 {
		return fresh, nil
	}
	var oldDoc, newDoc yaml.Node
	if err := yaml.Unmarshal(existing, &oldDoc); err != nil {
		return nil, fmt.Errorf("parse existing config: %w", err)
	}
	if err := yaml.Unmarshal(fresh, &newDoc); err != nil {
		return nil, err
	}
	if len(oldDoc.Content) == 0 || oldDoc.Content[0].Kind != yaml.MappingNode {
		return fresh, nil
	}
	oldMap, newMap := oldDoc.Content[0], newDoc.Content[0]
	for i := 0; i+1 < len(newMap.Content); i += 2 {
		key, val := newMap.Content[i].Value, newMap.Content[i+1]
		if old := lookup(oldMap, key); old != nil && key == "runners" && old.Kind == yaml.SequenceNode {
			newMap.Content[i+1] = mergeRunners(old, val)
		} else if old != nil && sameYAML(old, val) {
			newMap.Content[i+1] = old
		}
		if k := lookupKey(oldMap, key); k != nil {
			newMap.Content[i] = k // keeps the key's head comment
		}
	}
	newMap.HeadComment = oldMap.HeadComment
	newDoc.HeadComment = oldDoc.HeadComment
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&newDoc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// mergeRunners keeps each unchanged runner's original node.
func mergeRunners(old, fresh *yaml.Node) *yaml.Node {
	byName := map[string]*yaml.Node{}
	for _, r := range old.Content {
		if n := lookup(r, "name"); n != nil {
			byName[n.Value] = r
		}
	}
	for i, r := range fresh.Content {
		if n := lookup(r, "name"); n != nil {
			if o, ok := byName[n.Value]; ok && sameYAML(o, r) {
				fresh.Content[i] = o
			}
		}
	}
	fresh.Style = old.Style
	return fresh
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lookupKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// sameYAML compares two nodes by value, ignoring style and comments.
func sameYAML(a, b *yaml.Node) bool {
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	ea, err1 := yaml.Marshal(va)
	eb, err2 := yaml.Marshal(vb)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
