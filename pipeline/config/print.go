package config

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/midata/midata/pipeline/config/yamlstrict"
)

// Print writes the effective configuration of cmd as YAML: every key cmd
// uses (KeysOf), and only those, with each token replaced by "****" and a
// number, keeping its role, and the ops CLI's token by "****":
//
//	auth:
//	  tokens:
//	    '****1': ops
//	    '****2': customer:C000123
//
// Tokens are numbered in the order of their roles, so the output does not
// depend on the tokens.
func (c Config) Print(w io.Writer, cmd Command) error {
	masked := c
	masked.Auth.Tokens = nil
	if len(c.Auth.Tokens) > 0 {
		roles := make([]string, 0, len(c.Auth.Tokens))
		for _, role := range c.Auth.Tokens {
			roles = append(roles, role)
		}
		slices.Sort(roles)
		masked.Auth.Tokens = make(map[string]string, len(roles))
		for i, role := range roles {
			masked.Auth.Tokens["****"+strconv.Itoa(i+1)] = role
		}
	}
	if masked.Client.Token != "" {
		masked.Client.Token = "****"
	}
	if masked.Schedules == nil {
		masked.Schedules = []Schedule{}
	}
	if masked.Kafka.Brokers == nil {
		masked.Kafka.Brokers = []string{}
	}
	if masked.Signing.OldPublicKeyFiles == nil {
		masked.Signing.OldPublicKeyFiles = []string{}
	}
	var doc yaml.Node
	if err := doc.Encode(masked); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	var names []string
	for _, k := range KeysOf(cmd) {
		names = append(names, k.Name)
	}
	keepKeys(&doc, "", names)
	var b strings.Builder
	fmt.Fprintf(&b, "# The effective configuration of midata %s (secrets masked).\n", cmd)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return nil
}

// keepKeys removes from the mapping n (at path) every entry that is
// neither one of the keys names nor holds one.
func keepKeys(n *yaml.Node, path string, names []string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		p := yamlstrict.JoinPath(path, n.Content[i].Value)
		leaf := slices.Contains(names, p)
		inner := slices.ContainsFunc(names, func(name string) bool { return strings.HasPrefix(name, p+".") })
		if !leaf && !inner {
			continue
		}
		if !leaf {
			keepKeys(n.Content[i+1], p, names)
		}
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	n.Content = kept
}

// Logger returns the logger Log describes, writing to w. Call it on a
// validated Log; an unknown level means info, an unknown format json.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	switch l.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
