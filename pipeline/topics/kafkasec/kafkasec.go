// Package kafkasec turns the Kafka security settings of the configuration
// (TLS, and SASL with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) into what
// kafka-go dials with: a *tls.Config and a sasl.Mechanism, which
// topics.Connection hands to every transport and dialer midata makes.
//
// Secrets (the SASL password, a client key) come from the environment or
// from files, never from a command-line flag alone (package config refuses
// secret flags). Files are read once, when the connection is built, so a
// bad path or a malformed certificate stops the command at start with the
// key's name.
package kafkasec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The SASL mechanisms midata speaks.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// TLS says whether and how connections to the brokers are encrypted.
type TLS struct {
	// Enabled encrypts every connection to the brokers; the brokers'
	// certificates are checked against CAFile, else the system's roots.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the certificate authorities to trust.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client's PEM certificate and key, for
	// brokers that ask for one (mutual TLS); both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the brokers' certificates; empty
	// means each broker's host.
	ServerName string `yaml:"server_name"`
}

// SASL says how midata authenticates to the brokers.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or empty (none).
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user.
	Username string `yaml:"username"`
	// Password is the SASL password: from the environment. Secret.
	Password string `yaml:"password"`
	// PasswordFile holds the password instead (its first line), e.g. a
	// mounted Kubernetes secret.
	PasswordFile string `yaml:"password_file"`
}

// Validate reports what is wrong with the settings, all at once, without
// reading any file and never showing the password.
func (t TLS) Validate() error {
	var errs []error
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
		errs = append(errs, errors.New("TLS files or a server name are set but TLS is not enabled: set kafka.tls.enabled"))
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("a client certificate needs both kafka.tls.cert_file and kafka.tls.key_file"))
	}
	return errors.Join(errs...)
}

// Validate reports what is wrong with the SASL settings.
func (s SASL) Validate() error {
	var errs []error
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			errs = append(errs, errors.New("a SASL user or password is set but no mechanism: set kafka.sasl.mechanism"))
		}
		return errors.Join(errs...)
	case Plain, ScramSHA256, ScramSHA512:
	default:
		errs = append(errs, fmt.Errorf("mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism))
	}
	if s.Username == "" {
		errs = append(errs, errors.New("SASL needs kafka.sasl.username"))
	}
	if (s.Password == "") == (s.PasswordFile == "") {
		errs = append(errs, errors.New("SASL needs a password: one of MIDATA_KAFKA_SASL_PASSWORD or kafka.sasl.password_file"))
	}
	return errors.Join(errs...)
}

// Config returns the TLS configuration, nil when TLS is off. It reads the
// files named.
func (t TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Build returns the SASL mechanism, nil when SASL is off. It reads the
// password file when one is named.
func (s SASL) Build() (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	password := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimRight(password, "\r")
		if password == "" {
			return nil, fmt.Errorf("kafka.sasl.password_file %s: its first line is empty", s.PasswordFile)
		}
	}
	switch s.Mechanism {
	case Plain:
		return plain.Mechanism{Username: s.Username, Password: password}, nil
	case ScramSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, password)
	default:
		return scram.Mechanism(scram.SHA512, s.Username, password)
	}
}
