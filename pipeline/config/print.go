package config

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Print writes the effective configuration as YAML, every key present,
// with each token replaced by "****" and a number, keeping its role:
//
//	auth:
//	  tokens:
//	    '****1': ops
//	    '****2': customer:C000123
//
// Tokens are numbered in the order of their roles, so the output does not
// depend on the tokens.
func (c Config) Print(w io.Writer) error {
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
	if masked.Schedules == nil {
		masked.Schedules = []Schedule{}
	}
	if masked.Kafka.Brokers == nil {
		masked.Kafka.Brokers = []string{}
	}
	var b strings.Builder
	b.WriteString("# The effective configuration of midata serve (tokens masked).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(masked); err != nil {
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
