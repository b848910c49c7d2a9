package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/signing"
)

const verifySynopsis = `verify BUNDLE --pubkey KEY [--identity AGE-KEY-FILE]

What a partner runs on a bundle midata delivered: decrypts it when it is
encrypted (with the age identity file), checks the signatures of its
manifest and consent receipt with the organisation's public key (a minisign
key line, a .pub file, or the /.well-known/midata-signing-key document), and
every file's size and sha256 (and ndjson row count) against the manifest.
Prints one line per check and a verdict; exits 1 on any mismatch.`

func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", verifySynopsis, stderr)
	pubkey := fs.String("pubkey", "", "the organisation's public key: a minisign key line, or a file holding one or more")
	identity := fs.String("identity", "", "an age identity file, for an encrypted bundle")
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usagef("verify: want one bundle file")
	}
	if *pubkey == "" {
		return usagef("verify: --pubkey is required (the key served at /.well-known/midata-signing-key)")
	}
	text := []byte(*pubkey)
	if b, err := os.ReadFile(*pubkey); err == nil {
		text = b
	} else if strings.ContainsAny(*pubkey, "/.") && !strings.HasPrefix(*pubkey, "RW") {
		return usagef("verify: --pubkey %s: %v", *pubkey, err)
	}
	pubs, err := signing.ParsePublicKeys(text)
	if err != nil {
		return usagef("verify: --pubkey: %v", err)
	}
	var ids []age.Identity
	if *identity != "" {
		f, err := os.Open(*identity)
		if err != nil {
			return usagef("verify: --identity: %v", err)
		}
		ids, err = age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return usagef("verify: --identity %s: %v", *identity, err)
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := bundle.Verify(f, pubs, ids...)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if rep.Encrypted {
		fmt.Fprintln(stdout, "ok    decrypted with the identity given")
	}
	for _, c := range rep.Checks {
		fmt.Fprintln(stdout, "ok    "+c)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "FAIL  "+p)
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "release %s: NOT VERIFIED (%d problems)\n", rep.ReleaseID, len(rep.Problems))
		return errors.New("the bundle does not verify")
	}
	fmt.Fprintf(stdout, "release %s: verified, signed by key %s\n", rep.ReleaseID, rep.KeyID)
	return nil
}
