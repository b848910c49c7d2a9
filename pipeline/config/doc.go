// Package config owns the configuration of every midata command (dev,
// serve, export, seed, runs, schedule): the Config type with its defaults,
// the one table of keys that says which commands use each key, loading a
// command's keys from a YAML file, environment variables and command-line
// flags, validating them once at start, and printing the effective
// configuration with its secrets masked. It also owns the readings every
// command shares: durations with days (Duration), the times of a period
// (ParseTime). The rule for the lifetime of links is sinks.CheckLinkTTL and
// the topics' default names are package topics'.
//
// Every key has one name in each layer, the same in every command that
// uses it, listed by Keys (README.md in this folder, and the top README's
// Configuration section, are generated from it):
//
//	YAML            environment               flag
//	kafka.brokers   MIDATA_KAFKA_BROKERS      --kafka-brokers
//	s3.bucket       MIDATA_S3_BUCKET          --s3-bucket
//	links.ttl       MIDATA_LINK_TTL           --link-ttl
//
// Layers override each other key by key: defaults, then the file, then the
// environment, then flags. A list or map given in a layer replaces the one
// below it; it is not merged. An empty environment variable counts as unset.
// One file serves every command: a command reads the variables and checks
// the values of its own keys only. A flag a key had before (--brokers) is
// refused with one line naming the new one (CheckRenamed).
//
// A key the file does not know, or a value of the wrong type, stops Load
// with the file's name, the line and the key's full path; Validate names
// every bad key with its value (never a secret's) and the variable and flag
// that set it. A command wires it as
//
//	cl := config.NewCommandLine(config.CommandServe, fs) // its keys' flags, --config, --print-config
//	err := cl.Parse(args)
//	cfg, err := cl.Load(os.LookupEnv)   // file, environment, flags; Validate(CommandServe)
//
// It does not connect to anything, it does not parse a request's arguments
// (--customer, --from, … belong to each command), and it does not read AWS
// credentials: those come from the AWS SDK's chain (AWS_ACCESS_KEY_ID,
// AWS_PROFILE, instance roles, …).
package config
