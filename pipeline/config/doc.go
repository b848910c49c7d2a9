// Package config owns the configuration of `midata serve`: the Config type
// with its defaults, loading it from a YAML file, environment variables and
// command-line flags, validating it once at start, and printing the
// effective configuration with its secrets masked.
//
// Every key has one name in each layer, listed by Keys (README.md in this
// folder is generated from it):
//
//	YAML            environment               flag
//	kafka.brokers   MIDATA_KAFKA_BROKERS      --kafka-brokers
//	s3.bucket       MIDATA_S3_BUCKET          --s3-bucket
//	links.ttl       MIDATA_LINK_TTL           --link-ttl
//
// Layers override each other key by key: defaults, then the file, then the
// environment, then flags. A list or map given in a layer replaces the one
// below it; it is not merged. An empty environment variable counts as unset.
//
// A key the file does not know, or a value of the wrong type, stops Load
// with the file's name, the line and the key's full path; Validate names
// every bad key with its value (never a secret's) and the variable and flag
// that set it. A caller wires it as
//
//	flagged := config.Default()
//	flagged.Flags(fs)                   // one flag per key; defaults shown in --help
//	fs.Parse(args)                      // --config names the file
//	cfg, err := config.Load(path, os.LookupEnv)
//	err = cfg.ApplyFlags(fs)            // flags win over file and environment
//	err = cfg.Validate()
//
// It does not connect to anything, and it does not read AWS credentials:
// those come from the AWS SDK's chain (AWS_ACCESS_KEY_ID, AWS_PROFILE,
// instance roles, …).
package config
