package main

import (
	"context"
	"fmt"
	"io"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/signing"
)

const keysSynopsis = `keys [flags]            print the public signing keys (signing.key_file, then the old ones)
       keys generate --dir DIR  make a new signing key pair in DIR: signing.key and signing.pub

The organisation's signing key signs what partners receive, in minisign's
format; partners check signatures with 'minisign -V -P <key>' or
'midata verify', with the keys printed here and served by midata serve at
/.well-known/midata-signing-key. To rotate: generate a new pair, point
signing.key_file at the new key and add the old signing.pub to
signing.old_public_key_files.`

func runKeys(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys", keysSynopsis, stderr)
	dir := fs.String("dir", "", "keys generate: the folder the new key pair goes to (it must exist)")
	cl := config.NewCommandLine(config.CommandKeys, fs)
	pos, err := parseInterspersed(cl, args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return err
	}
	if cl.PrintConfig() {
		return cfg.Print(stdout, config.CommandKeys)
	}
	switch {
	case len(pos) == 1 && pos[0] == "generate":
		if *dir == "" {
			return usagef("keys generate: --dir is required")
		}
		pub, err := signing.Generate(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "midata keys: wrote %s (secret: mount it for serve as signing.key_file) and %s\n", *dir+"/signing.key", pub)
		return nil
	case len(pos) > 0:
		return usagef("keys: unexpected argument %q: want none (print the keys) or generate", pos[0])
	case cfg.Signing.KeyFile == "":
		return usagef("keys: signing.key_file is not set (MIDATA_SIGNING_KEY_FILE or --signing-key-file)")
	}
	k, err := signing.Load(cfg.Signing.KeyFile, cfg.Signing.OldPublicKeyFiles)
	if err != nil {
		return usageError{err}
	}
	_, err = stdout.Write(k.WellKnown())
	return err
}
