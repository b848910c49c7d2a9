// Package yamlstrict decodes a YAML document into Go structs strictly: every
// key the target has no field for and every value that does not fit its
// field is reported, all at once, each with its line and its path (e.g.
// "line 7: unknown key s3.bukcet (known in s3: endpoint, bucket, …)"). Map
// keys never appear in a message, so a map of secrets stays secret. It does
// not validate the values beyond their YAML kind.
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode decodes one YAML document into out (a pointer), keeping what
// out holds for absent keys. Unknown keys and values of the wrong type are
// reported all at once, each with its line and its path under root.
func Decode(data []byte, out any, root string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil // an empty document sets nothing
	} else if err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more than one YAML document: want one")
	}
	var problems []error
	check(&doc, reflect.TypeOf(out).Elem(), root, &problems)
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s", strings.Join(te.Errors, "; "))
		}
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// check walks node n against the Go type t, adding a problem for every key
// t has no field for and every value that does not decode into its field.
// Map keys are never written into a problem: the one map holds tokens.
func check(n *yaml.Node, t reflect.Type, path string, problems *[]error) {
	add := func(line int, format string, args ...any) {
		*problems = append(*problems, fmt.Errorf("line %d: %s: %s", line, displayPath(path), fmt.Sprintf(format, args...)))
	}
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 0 {
			return
		} else {
			n = n.Content[0]
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps what was there
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			add(n.Line, "%s, got %s", strings.TrimPrefix(err.Error(), "yaml: "), describe(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			add(n.Line, "want a mapping of keys, got %s", describe(n))
			return
		}
		names, types := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := types[k.Value]
			if !ok {
				where := "at the top level"
				if path != "" {
					where = "in " + path
				}
				*problems = append(*problems, fmt.Errorf("line %d: unknown key %s (known %s: %s)",
					k.Line, JoinPath(path, k.Value), where, strings.Join(names, ", ")))
				continue
			}
			check(v, ft, JoinPath(path, k.Value), problems)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			add(n.Line, "want a list, got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			add(n.Line, "want a mapping, got %s", describe(n))
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			check(n.Content[i], t.Elem(), path, problems)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			add(n.Line, "want %s, got %s", wantKind(t), describe(n))
		}
	}
}

// yamlFields returns the keys of struct type t, in order, and their types.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// JoinPath is the path of key under path: "s3" and "bucket" give
// "s3.bucket"; the top level is "".
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func displayPath(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func wantKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	}
	return t.String()
}
