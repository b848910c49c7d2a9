package config

import (
	"flag"
	"strings"
)

// ConfigEnv names the config file when --config is not given.
const ConfigEnv = "MIDATA_CONFIG"

// CommandLine is the configuration part of one command's flags: the flag
// of every key the command uses, --config FILE and --print-config. A
// command registers its own arguments (--customer, --from, …) on the same
// flag set, then
//
//	cl := config.NewCommandLine(config.CommandExport, fs)
//	err := cl.Parse(args)               // refuses renamed flags, then fs.Parse
//	cfg, err := cl.Load(os.LookupEnv)   // file, environment, flags; Validate
//	if cl.PrintConfig() { cfg.Print(stdout, config.CommandExport) }
type CommandLine struct {
	cmd   Command
	fs    *flag.FlagSet
	path  string
	print bool
}

// NewCommandLine registers on fs the flags of cmd's keys, --config and
// --print-config.
func NewCommandLine(cmd Command, fs *flag.FlagSet) *CommandLine {
	cl := &CommandLine{cmd: cmd, fs: fs}
	var secrets []string
	for _, k := range KeysOf(cmd) {
		if k.Flag == "" {
			secrets = append(secrets, k.Env)
		}
	}
	usage := "YAML config file; every key of it can also be set by its variable and flag"
	if len(secrets) > 0 {
		usage += " (secrets have no flag, since ps shows it: set " + strings.Join(secrets, ", ") + ", or a *_file key)"
	}
	fs.StringVar(&cl.path, "config", "", usage+" ["+ConfigEnv+"]")
	fs.BoolVar(&cl.print, "print-config", false, "print the effective configuration of the command (secrets masked) and exit")
	flagged := Default()
	flagged.Flags(cmd, fs)
	return cl
}

// Command returns the command the line is for.
func (cl *CommandLine) Command() Command { return cl.cmd }

// FlagSet returns the flag set the line registers on.
func (cl *CommandLine) FlagSet() *flag.FlagSet { return cl.fs }

// Parse refuses renamed flags (CheckRenamed), then parses args with the
// flag set. It may be called again on the arguments left after a
// positional one.
func (cl *CommandLine) Parse(args []string) error {
	if err := CheckRenamed(cl.fs, args); err != nil {
		return err
	}
	return cl.fs.Parse(args)
}

// Load returns the command's configuration: Default, the file (--config,
// else the variable MIDATA_CONFIG), the environment that env finds, then
// the flags given, validated for the command. Errors about what the
// configuration says match ErrInvalid.
func (cl *CommandLine) Load(env func(string) (string, bool)) (Config, error) {
	path := cl.path
	if !cl.given("config") && env != nil {
		path, _ = env(ConfigEnv)
	}
	c, err := Load(cl.cmd, path, env)
	if err != nil {
		return Config{}, err
	}
	if err := c.ApplyFlags(cl.fs); err != nil {
		return Config{}, err
	}
	if err := c.Validate(cl.cmd); err != nil {
		return Config{}, err
	}
	return c, nil
}

// PrintConfig says whether --print-config was given.
func (cl *CommandLine) PrintConfig() bool { return cl.print }

func (cl *CommandLine) given(name string) bool {
	found := false
	cl.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
