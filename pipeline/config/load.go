package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/midata/midata/pipeline/config/yamlstrict"
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

// decodeStrict decodes one YAML document into out (a pointer) with
// yamlstrict: every unknown key and wrong value, with its line and its
// path under root, as one ErrInvalid.
func decodeStrict(data []byte, out any, root string) error {
	if err := yamlstrict.Decode(data, out, root); err != nil {
		return &invalidError{msg: err.Error()}
	}
	return nil
}

// prefix puts p before every line of err, keeping it an ErrInvalid.
func prefix(p string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = p + ": " + lines[i]
	}
	return &invalidError{msg: strings.Join(lines, "\n")}
}
