package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is matched (errors.Is) by every error of Load, ApplyFlags and
// Validate that is about what the configuration says, as opposed to
// reading the file.
var ErrInvalid = errors.New("invalid configuration")

// invalidError is an error that matches ErrInvalid without saying so.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Load returns Default, overridden by the YAML file at path (none when path
// is ""), overridden by the environment variables of cmd's keys that env
// finds (nil: none; os.LookupEnv in production). The file is one for every
// command: it may hold keys cmd does not use, which stay unchecked. Load
// does not validate: apply flags with ApplyFlags, then call Validate (or
// let CommandLine.Load do all three).
//
// A key the file does not know stops Load with the key's path and line:
//
//	config file serve.yaml: line 4: unknown key kafka.partitionr (known in kafka: brokers, partitioner)
func Load(cmd Command, path string, env func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config file: %w", err)
		}
		if err := decodeStrict(data, &c, ""); err != nil {
			return Config{}, prefix("config file "+path, err)
		}
	}
	if env != nil {
		if err := c.loadEnv(cmd, env); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// loadEnv sets every key of cmd whose variable env finds non-empty.
func (c *Config) loadEnv(cmd Command, env func(string) (string, bool)) error {
	var errs []error
	for _, f := range fields() {
		if !f.UsedBy(cmd) {
			continue
		}
		v, ok := env(f.Env)
		if !ok || v == "" {
			continue
		}
		if err := f.set(c, v); err != nil {
			if f.Secret {
				errs = append(errs, invalidf("environment %s: %v", f.Env, err))
			} else {
				errs = append(errs, invalidf("environment %s %q: %v", f.Env, v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// UnknownEnv returns the variables of environ (os.Environ's form) that start
// with MIDATA_ but are no key's (nor MIDATA_CONFIG), sorted: most likely
// misspelt keys, which `midata serve` should warn about. It leaves out MIDATA_TEST_* (the test
// bench's). It does not fail start-up on them because the environment is
// not midata's alone: Kubernetes, unless a pod sets enableServiceLinks:
// false, adds MIDATA_SERVICE_HOST, MIDATA_PORT_… for a Service named midata.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{ConfigEnv: true}
	for _, f := range fields() {
		known[f.Env] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MIDATA_") && !strings.HasPrefix(name, "MIDATA_TEST_") && !known[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// decodeStrict decodes one YAML document into out (a pointer), keeping what
// out holds for absent keys. Unknown keys and values of the wrong type are
// reported all at once, each with its line and its path under root.
func decodeStrict(data []byte, out any, root string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil // an empty document sets nothing
	} else if err != nil {
		return invalidf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return invalidf("more than one YAML document: want one")
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
			return invalidf("%s", strings.Join(te.Errors, "; "))
		}
		return invalidf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// check walks node n against the Go type t, adding a problem for every key
// t has no field for and every value that does not decode into its field.
// Map keys are never written into a problem: the one map holds tokens.
func check(n *yaml.Node, t reflect.Type, path string, problems *[]error) {
	add := func(line int, format string, args ...any) {
		*problems = append(*problems, invalidf("line %d: %s: %s", line, displayPath(path), fmt.Sprintf(format, args...)))
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
				*problems = append(*problems, invalidf("line %d: unknown key %s (known %s: %s)",
					k.Line, joinPath(path, k.Value), where, strings.Join(names, ", ")))
				continue
			}
			check(v, ft, joinPath(path, k.Value), problems)
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

func joinPath(path, key string) string {
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

// prefix puts p before every line of err, keeping it an ErrInvalid.
func prefix(p string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = p + ": " + lines[i]
	}
	return &invalidError{msg: strings.Join(lines, "\n")}
}
