// Package config owns the configuration of every midata command: the
// Config type with its defaults, the one table of keys (Keys) that says
// which commands use each key, loading a command's keys from a YAML file,
// environment variables and flags (each layer over the one before, key by
// key), validating them once at start, and printing the effective
// configuration with its secrets masked. It also owns the readings every
// command shares: durations with days (Duration), the times of a period
// (ParseTime). README.md in this folder, generated from Keys, lists every
// key with its variable and flag and says how the layers combine.
//
// Secrets (tokens, passwords) have no flag, since ps shows a command line:
// they come from the environment or from a file a *_file key names. A
// command wires it as
//
//	cl := config.NewCommandLine(config.CommandServe, fs) // its keys' flags, --config, --print-config
//	err := cl.Parse(args)
//	cfg, err := cl.Load(os.LookupEnv)   // file, environment, flags; Validate(CommandServe)
//
// It does not connect to anything and does not read AWS credentials (the
// AWS SDK's chain does).
package config
