package topics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Defaults of Connection.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultClientID       = "midata"
)

// Connection is how every client of midata reaches the Kafka cluster: the
// bootstrap brokers, the timeouts of connecting and of one request, and
// the security of the connections (TLS, SASL; package kafkasec builds them
// from the configuration).
// Every transport, dialer and client midata makes (the transactions
// source, the producer, the views, the consumer group, the admin calls)
// comes from it, so a setting added here (TLS, SASL) reaches them all.
// The zero value of every field but Brokers means its default.
type Connection struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// DialTimeout bounds connecting to one broker. Default 10s.
	DialTimeout time.Duration
	// RequestTimeout bounds one metadata, offsets or admin request,
	// connecting included, so unreachable brokers fail instead of hanging.
	// Default 10s.
	RequestTimeout time.Duration
	// ClientID names midata to the brokers (their logs and quotas).
	// Default "midata".
	ClientID string
	// TLS, when set, encrypts every connection to the brokers.
	TLS *tls.Config
	// SASL, when set, authenticates every connection.
	SASL sasl.Mechanism
}

// Validate reports what is wrong with the connection settings, all at once.
func (c Connection) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers: want one or more host:port"))
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || strings.Contains(b, ",") {
			errs = append(errs, fmt.Errorf("broker %q: want host:port", b))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial timeout %v: want 0 (default %v) or more", c.DialTimeout, DefaultDialTimeout))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %v: want 0 (default %v) or more", c.RequestTimeout, DefaultRequestTimeout))
	}
	return errors.Join(errs...)
}

// WithDefaults returns c with every zero field but Brokers set to its
// default.
func (c Connection) WithDefaults() Connection {
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	return c
}

// Addr returns the bootstrap brokers as one address for kafka-go.
func (c Connection) Addr() net.Addr { return kafka.TCP(c.Brokers...) }

// Transport returns a new kafka-go transport of its own (not the package's
// DefaultTransport), for clients and writers; the caller closes its idle
// connections when done, which also stops its goroutines.
func (c Connection) Transport() *kafka.Transport {
	c = c.WithDefaults()
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: c.DialTimeout}).DialContext,
		DialTimeout: c.DialTimeout,
		ClientID:    c.ClientID,
		TLS:         c.TLS,
		SASL:        c.SASL,
	}
}

// Dialer returns a kafka-go dialer, for readers (a partition's tail, a
// consumer group member).
func (c Connection) Dialer() *kafka.Dialer {
	c = c.WithDefaults()
	return &kafka.Dialer{Timeout: c.DialTimeout, ClientID: c.ClientID, TLS: c.TLS, SASLMechanism: c.SASL}
}

// Check connects to each broker in turn, TLS and SASL included, until one
// accepts, and otherwise says why the last refused: a password the broker
// refused, a certificate not trusted, nothing listening. kafka-go's
// transport reports all of these as "Broker Not Available"; commands call
// Check when their first request fails, so an operator reads the cause.
func (c Connection) Check(ctx context.Context) error {
	c = c.WithDefaults()
	var err error
	for _, b := range c.Brokers {
		var conn *kafka.Conn
		if conn, err = c.Dialer().DialContext(ctx, "tcp", b); err == nil {
			return conn.Close()
		}
	}
	return fmt.Errorf("connect to %s: %w", c, err)
}

// String names the brokers, for errors.
func (c Connection) String() string { return strings.Join(c.Brokers, ",") }
