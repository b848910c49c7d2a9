// Package deploy_test checks that the deployment files agree with the code:
// docker-compose.yml, deploy/Dockerfile and deploy/k8s/*.yaml name the
// services, ports, probes and MIDATA_* variables that pipeline/config and
// the HTTP API define. No Docker engine or cluster runs here: the files are
// parsed, and every config they carry is loaded with config.Load and
// validated, as `midata serve` would at start.
package deploy_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/sinks"
)

// knownEnv is every variable a config key reads.
func knownEnv() map[string]bool {
	known := make(map[string]bool)
	for _, k := range config.Keys() {
		known[k.Env] = true
	}
	return known
}

// decodeStrict decodes YAML into out, refusing keys out has no field for,
// so that a misspelt key in a deployment file fails the test.
func decodeStrict(t *testing.T, name string, data []byte, out any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s: %v (a key the test does not know: add it to the test's types if it is right)", name, err)
	}
}

// loadConfig writes text to a file and loads it as `midata serve` would,
// with env as the environment, then validates it.
func loadConfig(t *testing.T, text string, env map[string]string) config.Config {
	t.Helper()
	return loadConfigFor(t, config.CommandServe, text, env)
}

// loadConfigFor loads and validates text and env as command cmd would.
func loadConfigFor(t *testing.T, cmd config.Command, text string, env map[string]string) config.Config {
	t.Helper()
	file := ""
	if text != "" {
		file = filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.Load(cmd, file, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if err := c.Validate(cmd); err != nil {
		t.Fatalf("midata %s: Validate: %v", cmd, err)
	}
	return c
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// benchVersion returns NAME=value from deploy/testbench/bench.sh.
func benchVersion(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testbench/bench.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("testbench/bench.sh sets no %s", name)
	}
	return string(m[1])
}

// ---------------------------------------------------------------- compose

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Restart     string            `yaml:"restart"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck map[string]any    `yaml:"healthcheck"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	decodeStrict(t, "docker-compose.yml", data, &f)
	return f
}

// dependsOn returns the services s depends on, from the list or map form.
func (s composeService) dependsOn() []string {
	var out []string
	switch s.DependsOn.Kind {
	case yaml.SequenceNode:
		for _, n := range s.DependsOn.Content {
			out = append(out, n.Value)
		}
	case yaml.MappingNode:
		for i := 0; i < len(s.DependsOn.Content); i += 2 {
			out = append(out, s.DependsOn.Content[i].Value)
		}
	}
	return out
}

// midataEnv returns the MIDATA_* variables of env.
func midataEnv(env map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range env {
		if strings.HasPrefix(k, "MIDATA_") {
			out[k] = v
		}
	}
	return out
}

func TestComposeRunsKafkaS3AndMidataServe(t *testing.T) {
	t.Parallel()
	f := readCompose(t)
	for _, name := range []string{"kafka", "s3", "midata"} {
		if _, ok := f.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	for name, s := range f.Services {
		for _, dep := range s.dependsOn() {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("service %s depends on %q, which is no service", name, dep)
			}
		}
	}

	kafka := f.Services["kafka"]
	if want := "apache/kafka:" + benchVersion(t, "KAFKA_VERSION"); kafka.Image != want {
		t.Errorf("kafka image %q, want %q (the test bench's version)", kafka.Image, want)
	}
	if roles := kafka.Environment["KAFKA_PROCESS_ROLES"]; !strings.Contains(roles, "controller") || !strings.Contains(roles, "broker") {
		t.Errorf("kafka KAFKA_PROCESS_ROLES %q: want broker,controller (KRaft)", roles)
	}
	if _, zk := kafka.Environment["KAFKA_ZOOKEEPER_CONNECT"]; zk {
		t.Error("kafka sets KAFKA_ZOOKEEPER_CONNECT: want KRaft only")
	}
	s3 := f.Services["s3"]
	if want := "versity/versitygw:" + benchVersion(t, "VGW_VERSION"); s3.Image != want {
		t.Errorf("s3 image %q, want %q (the test bench's version)", s3.Image, want)
	}

	midata := f.Services["midata"]
	if midata.Build == nil || path.Clean(midata.Build.Dockerfile) != "deploy/Dockerfile" || midata.Build.Context != "." {
		t.Errorf("midata build %+v: want context . and dockerfile deploy/Dockerfile", midata.Build)
	}
	if len(midata.Command) == 0 || midata.Command[0] != "serve" {
		t.Errorf("midata command %q: want serve", midata.Command)
	}
}

func TestComposeVariablesAreConfigKeys(t *testing.T) {
	t.Parallel()
	known := knownEnv()
	for name, s := range readCompose(t).Services {
		for v := range midataEnv(s.Environment) {
			if !known[v] {
				t.Errorf("service %s sets %s, which no config key reads (pipeline/config/README.md lists them)", name, v)
			}
		}
	}
}

func TestComposeMidataConfigValidatesAndMatchesItsNeighbours(t *testing.T) {
	t.Parallel()
	f := readCompose(t)
	midata, kafka, s3 := f.Services["midata"], f.Services["kafka"], f.Services["s3"]
	c := loadConfig(t, "", midataEnv(midata.Environment))

	// The API port is published, on loopback only.
	httpPort := port(t, c.HTTP.Addr)
	if host, _, _ := net.SplitHostPort(c.HTTP.Addr); host != "0.0.0.0" && host != "" {
		t.Errorf("http.addr %q: inside a container, listen on 0.0.0.0 or the port is unreachable", c.HTTP.Addr)
	}
	published := false
	for _, p := range midata.Ports {
		parts := strings.Split(p, ":")
		if len(parts) != 3 {
			t.Errorf("midata port %q: want 127.0.0.1:<host port>:<container port>", p)
			continue
		}
		if parts[0] != "127.0.0.1" {
			t.Errorf("midata port %q is published beyond loopback", p)
		}
		if parts[2] == strconv.Itoa(httpPort) {
			published = true
		}
	}
	if !published {
		t.Errorf("midata publishes %q, none to the container port %d of http.addr", midata.Ports, httpPort)
	}

	// The brokers are kafka's advertised in-network listener.
	for _, b := range c.Kafka.Brokers {
		host, _, _ := net.SplitHostPort(b)
		if host != "kafka" {
			t.Errorf("kafka.brokers %q: want the kafka service", b)
		}
		if !strings.Contains(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], "://"+b) {
			t.Errorf("kafka.brokers %q is not one of kafka's advertised listeners %q", b, kafka.Environment["KAFKA_ADVERTISED_LISTENERS"])
		}
		if !strings.Contains(kafka.Environment["KAFKA_LISTENERS"], ":"+strconv.Itoa(port(t, b))) {
			t.Errorf("kafka.brokers %q: kafka listens on %q", b, kafka.Environment["KAFKA_LISTENERS"])
		}
	}

	// The store is the s3 service, on the port versitygw listens on, with
	// its root credentials, and the bucket is created.
	if !strings.HasPrefix(c.S3.Endpoint, "http://s3:") {
		t.Errorf("s3.endpoint %q: want the s3 service", c.S3.Endpoint)
	}
	vgwPort := ""
	for i, arg := range s3.Command {
		if arg == "--port" && i+1 < len(s3.Command) {
			vgwPort = strings.TrimPrefix(s3.Command[i+1], ":")
		}
	}
	if !strings.HasSuffix(c.S3.Endpoint, ":"+vgwPort) {
		t.Errorf("s3.endpoint %q, but versitygw listens on port %q", c.S3.Endpoint, vgwPort)
	}
	if midata.Environment["AWS_ACCESS_KEY_ID"] != s3.Environment["ROOT_ACCESS_KEY_ID"] ||
		midata.Environment["AWS_SECRET_ACCESS_KEY"] != s3.Environment["ROOT_SECRET_ACCESS_KEY"] {
		t.Error("midata's AWS keys are not the s3 service's root keys")
	}
	created := false
	for name, s := range f.Services {
		if strings.Contains(strings.Join(s.Entrypoint, " "), "s3://"+c.S3.Bucket) && slices.Contains(midata.dependsOn(), name) {
			created = true
		}
	}
	if !created {
		t.Errorf("no service midata depends on creates the bucket %q", c.S3.Bucket)
	}
	if c.Links.TTL != config.Duration(sinks.MaxLinkTTL) {
		t.Errorf("links.ttl %s: the stack is meant to show the 7d default", c.Links.TTL)
	}
}

// TestComposeRunsSeedAndExportWithTheSameVariables checks the commands the
// file's header suggests (docker compose run --rm midata seed | export …):
// they take the midata service's variables, each reading its own keys,
// and name only flags those commands have.
func TestComposeRunsSeedAndExportWithTheSameVariables(t *testing.T) {
	t.Parallel()
	env := midataEnv(readCompose(t).Services["midata"].Environment)
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	runs := regexp.MustCompile(`docker compose run --rm midata (\S+)(.*)`).FindAllStringSubmatch(string(data), -1)
	if len(runs) == 0 {
		t.Fatal("docker-compose.yml shows no docker compose run --rm midata …")
	}
	for _, m := range runs {
		cmd := config.Command(m[1])
		if !slices.Contains(config.Commands(), cmd) {
			t.Errorf("docker-compose.yml runs midata %s, no command that reads the config", cmd)
			continue
		}
		loadConfigFor(t, cmd, "", env)
		for _, flag := range regexp.MustCompile(`(?:^|\s)--([a-z0-9-]+)`).FindAllStringSubmatch(m[2], -1) {
			if k, renamed := config.Renamed(flag[1]); renamed {
				t.Errorf("docker-compose.yml: midata %s --%s: the flag is now --%s", cmd, flag[1], k.Flag)
			}
			if slices.ContainsFunc(config.Keys(), func(k config.Key) bool { return k.Flag == flag[1] && !k.UsedBy(cmd) }) {
				t.Errorf("docker-compose.yml: midata %s --%s: a setting the command does not read", cmd, flag[1])
			}
		}
	}
}

// ---------------------------------------------------------------- Dockerfile

func TestDockerfileBuildsAStaticNonRootServeImage(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string // the instructions of each stage, continuation lines joined
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before the first FROM", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]

	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVersion == nil || !strings.HasPrefix(stages[0][0], "FROM golang:"+string(goVersion[1])) {
		t.Errorf("build stage %q: want golang:%s, go.mod's version", stages[0][0], goVersion[1])
	}
	if !regexp.MustCompile(`CGO_ENABLED=0 [^\n]*go build`).MatchString(build) {
		t.Error("the build stage does not go build with CGO_ENABLED=0 (a static binary)")
	}
	if strings.Contains(string(data), "ENV MIDATA_") {
		t.Error("the image sets a MIDATA_ variable: it would override every config file")
	}

	var user, entrypoint, cmd, expose string
	for _, line := range final {
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		case "EXPOSE":
			expose = rest
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("final USER %q: want a numeric non-root uid (runAsNonRoot can only verify a number)", user)
	}
	if !strings.Contains(entrypoint, "midata") || !strings.Contains(cmd, `"serve"`) {
		t.Errorf("ENTRYPOINT %s CMD %s: want midata serve", entrypoint, cmd)
	}
	c := loadConfig(t, "http:\n  addr: 0.0.0.0:8080\nkafka: {brokers: [k:9092]}\ns3: {bucket: b-bucket}\n", nil)
	if expose != strconv.Itoa(port(t, c.HTTP.Addr)) {
		t.Errorf("EXPOSE %q, want the http port %d", expose, port(t, c.HTTP.Addr))
	}

	// Every package of the binary is copied into the build.
	var copied []string
	for _, line := range stages[0] {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "COPY" {
			copied = append(copied, path.Clean(f[1]))
		}
	}
	out, err := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}}", "github.com/midata/midata/cmd/midata").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(pkg, "github.com/midata/midata/")
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rel, "/")
		if !slices.Contains(copied, top) {
			t.Errorf("package %s is not copied into the build (COPY %s ./%s)", pkg, top, top)
		}
	}
}
