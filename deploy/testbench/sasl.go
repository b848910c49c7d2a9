package testbench

import (
	"os"
	"strings"
	"testing"
)

// Variables of the bench's SASL_SSL listener (bench.sh env prints them).
const (
	// EnvKafkaSASL holds the SASL_SSL listener's address.
	EnvKafkaSASL = "MIDATA_TEST_KAFKA_SASL"
	// EnvKafkaCA names the PEM file of the CA that signed the broker's
	// certificate, made fresh on every bench start.
	EnvKafkaCA = "MIDATA_TEST_KAFKA_CA"
	// EnvKafkaPlain and EnvKafkaScram hold user:password of the PLAIN user
	// and of the SCRAM-SHA-256/512 user.
	EnvKafkaPlain = "MIDATA_TEST_KAFKA_PLAIN"
	EnvKafkaScram = "MIDATA_TEST_KAFKA_SCRAM"
)

// SecureKafka is the bench broker's SASL_SSL listener.
type SecureKafka struct {
	Addr   string // host:port
	CAFile string // the CA's PEM certificate
	// Plain and Scram are the users of PLAIN and of SCRAM-SHA-256/512.
	Plain, Scram User
}

// User is a SASL user of the bench.
type User struct{ Name, Password string }

// KafkaSASL returns the bench broker's SASL_SSL listener. There is no
// in-process fallback (kfake has no TLS listener here): without the bench
// the test is skipped, and with EnvRequireBench=1 (make test) it fails.
func KafkaSASL(t testing.TB) SecureKafka {
	t.Helper()
	k := SecureKafka{Addr: os.Getenv(EnvKafkaSASL), CAFile: os.Getenv(EnvKafkaCA),
		Plain: user(os.Getenv(EnvKafkaPlain)), Scram: user(os.Getenv(EnvKafkaScram))}
	if k.Addr == "" || k.CAFile == "" || k.Plain.Name == "" || k.Scram.Name == "" {
		if benchRequired() {
			t.Fatalf("kafka bench: %s, %s, %s and %s are required with %s=1; %s",
				EnvKafkaSASL, EnvKafkaCA, EnvKafkaPlain, EnvKafkaScram, EnvRequireBench, startHint)
		}
		t.Skipf("no SASL_SSL Kafka listener (%s unset): the real bench has one; %s", EnvKafkaSASL, startHint)
	}
	if err := reachable(k.Addr); err != nil {
		t.Fatalf("kafka bench: SASL_SSL listener %s: %v; %s", k.Addr, err, startHint)
	}
	return k
}

func user(s string) User {
	name, pass, _ := strings.Cut(s, ":")
	return User{name, pass}
}
