package kafkasec_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/topics/kafkasec"
)

// connect builds the connection the settings give, as every command does.
func connect(t *testing.T, addr string, tl kafkasec.TLS, s kafkasec.SASL) topics.Connection {
	t.Helper()
	tc, err := tl.Config()
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topics.Connection{Brokers: []string{addr}, TLS: tc, SASL: m, RequestTimeout: 10 * time.Second, DialTimeout: 5 * time.Second}
}

// roundTrip creates a topic (admin requests over the transport), writes a
// record (a writer on the transport) and reads it back (a reader on the
// dialer): the three ways midata's clients reach Kafka.
func roundTrip(ctx context.Context, conn topics.Connection, topic, value string) (string, error) {
	if err := topics.Ensure(ctx, conn, topics.QuarantineSpec(topic)); err != nil {
		return "", err
	}
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: conn.Addr(), Topic: topic, Transport: tr, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte(value)}); err != nil {
		return "", err
	}
	w.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Topic: topic, Partition: 0, Dialer: conn.Dialer(), MaxWait: 200 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	return string(m.Value), err
}

func TestEveryMechanismOverTLSReachesTheRealBroker(t *testing.T) {
	k := testbench.KafkaSASL(t)
	tl := kafkasec.TLS{Enabled: true, CAFile: k.CAFile}
	for _, s := range []kafkasec.SASL{
		{Mechanism: kafkasec.Plain, Username: k.Plain.Name, Password: k.Plain.Password},
		{Mechanism: kafkasec.ScramSHA256, Username: k.Scram.Name, Password: k.Scram.Password},
		{Mechanism: kafkasec.ScramSHA512, Username: k.Scram.Name, Password: k.Scram.Password},
	} {
		t.Run(s.Mechanism, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			topic := testbench.UniqueName(t, "sasl")
			got, err := roundTrip(ctx, connect(t, k.Addr, tl, s), topic, "hello "+s.Mechanism)
			if err != nil || got != "hello "+s.Mechanism {
				t.Fatalf("round trip = %q, %v", got, err)
			}
		})
	}
}

func TestTheBrokerRefusesWhatIsNotSecuredOrNotKnown(t *testing.T) {
	k := testbench.KafkaSASL(t)
	tl := kafkasec.TLS{Enabled: true, CAFile: k.CAFile}
	scram := kafkasec.SASL{Mechanism: kafkasec.ScramSHA512, Username: k.Scram.Name, Password: k.Scram.Password}
	wrong := scram
	wrong.Password = "not-the-password"
	plainAsScram := kafkasec.SASL{Mechanism: kafkasec.ScramSHA256, Username: k.Plain.Name, Password: k.Plain.Password}
	for name, c := range map[string]struct {
		tl   kafkasec.TLS
		s    kafkasec.SASL
		want string
	}{
		"wrong password":          {tl, wrong, "SASL"},
		"a PLAIN user over SCRAM": {tl, plainAsScram, "SASL"},
		"TLS without SASL":        {tl, kafkasec.SASL{}, ""},
		"SASL without TLS":        {kafkasec.TLS{}, scram, ""},
		"the system's roots only": {kafkasec.TLS{Enabled: true}, scram, "certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			conn := connect(t, k.Addr, c.tl, c.s)
			_, err := roundTrip(ctx, conn, testbench.UniqueName(t, "refused"), "x")
			if err == nil {
				t.Fatal("the broker took a record")
			}
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestSettingsAreCheckedAndFilesRead(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("from-the-file\nignored\n"), 0o600)
	m, err := kafkasec.SASL{Mechanism: kafkasec.Plain, Username: "u", PasswordFile: pw}.Build()
	if err != nil || m == nil || m.Name() != "PLAIN" {
		t.Fatalf("password file: %v, %v", m, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	bad := []kafkasec.SASL{
		{Mechanism: "GSSAPI", Username: "u", Password: "p"},
		{Mechanism: kafkasec.Plain, Password: "p"},
		{Mechanism: kafkasec.Plain, Username: "u"},
		{Mechanism: kafkasec.Plain, Username: "u", Password: "p", PasswordFile: pw},
		{Username: "u"},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v: valid", s)
		}
	}
	if _, err := (kafkasec.SASL{Mechanism: kafkasec.Plain, Username: "u", PasswordFile: empty}).Build(); err == nil {
		t.Error("an empty password file was taken")
	}
	for _, tl := range []kafkasec.TLS{{CAFile: "ca.pem"}, {Enabled: true, CertFile: "c.pem"}} {
		if tl.Validate() == nil {
			t.Errorf("%+v: valid", tl)
		}
	}
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	if _, err := (kafkasec.TLS{Enabled: true, CAFile: notPEM}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
	if c, err := (kafkasec.TLS{}).Config(); c != nil || err != nil {
		t.Errorf("TLS off: %v, %v", c, err)
	}
}
