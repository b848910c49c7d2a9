package testbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvKafkaLibs names the folder of the Kafka jars the bench runs its broker
// from (bench.sh env prints it); PrivateKafka starts a broker of its own
// from them.
const EnvKafkaLibs = "MIDATA_TEST_KAFKA_LIBS"

// privateReady bounds a private broker's start (or restart): the bench's
// own broker is ready in about 15 s on a 2-core machine.
const privateReady = 120 * time.Second

// PrivateBroker is an Apache Kafka broker (a single KRaft node, PLAINTEXT
// only) that one test owns: it may kill it and start it again on the same
// log dir and port, which the shared bench broker of `make test` must never
// suffer. It is stopped when the test ends.
type PrivateBroker struct {
	// Addr is its client listener, 127.0.0.1:port; it stays the same
	// across restarts.
	Addr string

	t       testing.TB
	dir     string
	java    string
	libs    string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	starts  int
	logPath string
}

// PrivateKafka starts a private broker from the bench's Kafka jars
// (EnvKafkaLibs) and java (JAVA_HOME or PATH). Without the jars the test is
// skipped, or fails with EnvRequireBench=1.
func PrivateKafka(t testing.TB) *PrivateBroker {
	t.Helper()
	libs := os.Getenv(EnvKafkaLibs)
	if libs == "" {
		if benchRequired() {
			t.Fatalf("%s is not set but %s=1: %s", EnvKafkaLibs, EnvRequireBench, startHint)
		}
		t.Skipf("a private Kafka broker runs from the bench's jars: set %s (bench.sh env prints it; make test does)", EnvKafkaLibs)
	}
	if jars, _ := filepath.Glob(filepath.Join(libs, "kafka_*.jar")); len(jars) == 0 {
		t.Fatalf("%s=%s holds no kafka_*.jar: start the bench once (make bench-up) to fetch them", EnvKafkaLibs, libs)
	}
	java := "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
	}
	if _, err := exec.LookPath(java); err != nil {
		t.Fatalf("a private Kafka broker needs java 17+: %v", err)
	}
	dir := t.TempDir()
	port, controller := freeTCPPort(t), freeTCPPort(t)
	b := &PrivateBroker{Addr: fmt.Sprintf("127.0.0.1:%d", port), t: t, dir: dir, java: java, libs: libs,
		logPath: filepath.Join(dir, "logs", "server.log")}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%[3]s
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
group.initial.rebalance.delay.ms=0
log.retention.ms=-1
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
`, port, controller, filepath.Join(dir, "data"))
	if err := os.WriteFile(filepath.Join(dir, "server.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := fmt.Sprintf(`log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=%s
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.server.KafkaConfig=WARN
`, b.logPath)
	if err := os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	format := b.command("kafka.tools.StorageTool", "format", "-t", base64.RawURLEncoding.EncodeToString(id), "-c", filepath.Join(dir, "server.properties"))
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("private kafka: storage format: %v\n%s", err, out)
	}
	t.Cleanup(func() { b.Kill() })
	b.Start()
	return b
}

func (b *PrivateBroker) command(args ...string) *exec.Cmd {
	full := []string{"-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:" + filepath.Join(b.dir, "log4j.properties"), "-Dkafka.logs.dir=" + filepath.Join(b.dir, "logs"),
		"-cp", filepath.Join(b.libs, "*")}
	return exec.Command(b.java, append(full, args...)...)
}

// Start starts the broker (again, after Kill, on the same log dir and
// port) and waits until it serves: its log says it started and its port
// takes connections. It fails the test when it is not ready in time.
func (b *PrivateBroker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.t.Fatalf("private kafka %s: started twice", b.Addr)
	}
	b.starts++
	var out bytes.Buffer
	cmd := b.command("kafka.Kafka", filepath.Join(b.dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("private kafka: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done
	want := fmt.Sprintf("Kafka Server started")
	for {
		select {
		case <-done:
			b.cmd = nil
			b.t.Fatalf("private kafka %s exited while starting: %s\n%s", b.Addr, cmd.ProcessState, tailOf(out.String()+b.log(), 40))
		default:
		}
		if strings.Count(b.log(), want) >= b.starts && dialable(b.Addr) {
			b.t.Logf("private kafka %s ready in %s (start %d)", b.Addr, time.Since(began).Round(100*time.Millisecond), b.starts)
			return
		}
		if time.Since(began) > privateReady {
			b.t.Fatalf("private kafka %s not ready after %s:\n%s", b.Addr, privateReady, tailOf(b.log(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill ends the broker with SIGKILL, an unclean stop (its log recovers on
// the next start), and waits until it has exited. It does nothing when the
// broker is not running.
func (b *PrivateBroker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.done
	b.cmd, b.done = nil, nil
}

// Running says whether the broker process is up.
func (b *PrivateBroker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil
}

func (b *PrivateBroker) log() string {
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

// LogTail is the last lines of the broker's log, for a failure message.
func (b *PrivateBroker) LogTail(lines int) string { return tailOf(b.log(), lines) }

func tailOf(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func dialable(addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// freeTCPPort is a port of 127.0.0.1 that was free a moment ago.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
