package config

import (
	"errors"
	"flag"
	"strings"
)

// Flags registers on fs one flag per key that cmd uses (KeysOf), each
// writing into c when given, with c's current value as the default --help
// shows: call it on Default(). Because the config file is itself named by
// a flag, a command parses its flags first, then Loads, then calls
// ApplyFlags so that flags win over the file and the environment.
// CommandLine does all of that.
//
// Boolean keys take --scheduler-enabled=false. A bad value fails fs.Parse
// naming the flag, except for secret keys (tokens): their errors wait for
// ApplyFlags, because the flag package would print the value.
func (c *Config) Flags(cmd Command, fs *flag.FlagSet) {
	for _, f := range fields() {
		if !f.UsedBy(cmd) || f.Flag == "" {
			continue
		}
		usage := f.Meaning + " [" + f.Env + "]"
		fs.Var(&flagValue{c: c, f: f}, f.Flag, usage)
	}
}

// ApplyFlags sets in c every key whose flag (registered by Flags, on any
// Config) was given on fs's command line, in the order given.
func (c *Config) ApplyFlags(fs *flag.FlagSet) error {
	var errs []error
	fs.Visit(func(fl *flag.Flag) {
		v, ok := fl.Value.(*flagValue)
		if !ok {
			return
		}
		if err := v.f.set(c, v.raw); err != nil {
			if v.f.Secret {
				errs = append(errs, invalidf("flag --%s: %v", v.f.Flag, err))
			} else {
				errs = append(errs, invalidf("flag --%s %q: %v", v.f.Flag, v.raw, err))
			}
		}
	})
	return errors.Join(errs...)
}

// CheckRenamed refuses the flags that keys had before (Key.Renamed) and
// that fs does not define, with one line naming the flag to use:
//
//	flag --brokers is now --kafka-brokers (or MIDATA_KAFKA_BROKERS)
//
// It reads args as fs.Parse would: up to "--", skipping the values of
// flags that take one. The error matches ErrInvalid.
func CheckRenamed(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if fl := fs.Lookup(name); fl != nil {
			if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); !hasValue && (!ok || !b.IsBoolFlag()) {
				i++ // the flag's value
			}
			continue
		}
		if k, ok := Renamed(name); ok && k.Flag == "" {
			return invalidf("flag --%s: a secret is not taken from a flag (ps shows it); set %s, or name a file in %s_FILE", name, k.Env, k.Env)
		} else if ok {
			return invalidf("flag --%s is now --%s (or %s)", name, k.Flag, k.Env)
		}
	}
	return nil
}

// flagValue is the flag.Value of one key: it remembers the text given, so
// ApplyFlags can set it again on the loaded Config.
type flagValue struct {
	c   *Config
	f   field
	raw string
}

func (v *flagValue) String() string {
	if v == nil || v.c == nil || v.f.get == nil {
		return "" // the zero value the flag package makes to print defaults
	}
	return v.f.get(v.c)
}

func (v *flagValue) Set(s string) error {
	v.raw = s
	if err := v.f.set(v.c, s); err != nil && !v.f.Secret {
		return err
	}
	return nil
}

// IsBoolFlag lets boolean keys be given without a value.
func (v *flagValue) IsBoolFlag() bool { return v != nil && v.f.isBool }
