package deploy_test

// The Kubernetes manifests of deploy/k8s: parsed strictly (a misspelt key
// fails), the ConfigMap's config loaded with the Secret's placeholders, and
// the Deployment, Service and PodDisruptionBudget checked against it.

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/midata/midata/pipeline/config"
)

type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
	file       string
}

type objectMeta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type deploymentSpec struct {
	Replicas             int           `yaml:"replicas"`
	RevisionHistoryLimit int           `yaml:"revisionHistoryLimit"`
	Selector             labelSelector `yaml:"selector"`
	Strategy             yaml.Node     `yaml:"strategy"`
	Template             struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     podSpec    `yaml:"spec"`
	} `yaml:"template"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type podSpec struct {
	AutomountServiceAccountToken  *bool           `yaml:"automountServiceAccountToken"`
	EnableServiceLinks            *bool           `yaml:"enableServiceLinks"`
	TerminationGracePeriodSeconds int             `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               securityContext `yaml:"securityContext"`
	TopologySpreadConstraints     []yaml.Node     `yaml:"topologySpreadConstraints"`
	Containers                    []container     `yaml:"containers"`
	Volumes                       []volume        `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool     `yaml:"runAsNonRoot"`
	RunAsUser                *int      `yaml:"runAsUser"`
	RunAsGroup               *int      `yaml:"runAsGroup"`
	FSGroup                  *int      `yaml:"fsGroup"`
	SeccompProfile           yaml.Node `yaml:"seccompProfile"`
	AllowPrivilegeEscalation *bool     `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool     `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type container struct {
	Name            string          `yaml:"name"`
	Image           string          `yaml:"image"`
	ImagePullPolicy string          `yaml:"imagePullPolicy"`
	Args            []string        `yaml:"args"`
	Ports           []containerPort `yaml:"ports"`
	Env             []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	TimeoutSeconds   int `yaml:"timeoutSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string `yaml:"name"`
		Items []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"configMap"`
	EmptyDir *struct {
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
}

type serviceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string    `yaml:"name"`
		Port       int       `yaml:"port"`
		TargetPort yaml.Node `yaml:"targetPort"`
		Protocol   string    `yaml:"protocol"`
	} `yaml:"ports"`
}

type pdbSpec struct {
	MinAvailable int           `yaml:"minAvailable"`
	Selector     labelSelector `yaml:"selector"`
}

// manifests reads every document of deploy/k8s/*.yaml.
type manifests struct {
	objects []object
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/k8s/*.yaml: %v", err)
	}
	var m manifests
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		for {
			var o object
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document without apiVersion, kind or metadata.name", file)
			}
			o.file = file
			m.objects = append(m.objects, o)
		}
	}
	return m
}

// one returns the only object of kind, decoding its spec into spec.
func (m manifests) one(t *testing.T, kind string, spec any) object {
	t.Helper()
	var found []object
	for _, o := range m.objects {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("deploy/k8s has %d objects of kind %s, want 1", len(found), kind)
	}
	if spec != nil {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&found[0].Spec); err != nil {
			t.Fatal(err)
		}
		decodeStrict(t, found[0].file+" spec", buf.Bytes(), spec)
	}
	return found[0]
}

// worker returns the Deployment's spec and its midata container.
func (m manifests) worker(t *testing.T) (deploymentSpec, container) {
	t.Helper()
	var d deploymentSpec
	m.one(t, "Deployment", &d)
	for _, c := range d.Template.Spec.Containers {
		if c.Name == "midata" {
			return d, c
		}
	}
	t.Fatal("the Deployment has no container named midata")
	return d, container{}
}

// portOf resolves a probe's or Service's port (a number or a port name)
// against the container's ports.
func portOf(t *testing.T, c container, n yaml.Node) int {
	t.Helper()
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	for _, p := range c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	t.Errorf("port %q is no port of container %s", n.Value, c.Name)
	return -1
}

// serveConfig loads the ConfigMap's config.yaml with the container's
// environment, secrets taken from secret.example.yaml, as the pod would.
func (m manifests) serveConfig(t *testing.T) config.Config {
	t.Helper()
	d, c := m.worker(t)
	cm := m.one(t, "ConfigMap", nil)
	secret := m.one(t, "Secret", nil)

	i := slices.Index(c.Args, "--config")
	if len(c.Args) == 0 || c.Args[0] != "serve" || i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("container args %q: want serve --config <file>", c.Args)
	}
	file := c.Args[i+1]
	var mounted string
	for _, vm := range c.VolumeMounts {
		if path.Dir(file) != path.Clean(vm.MountPath) {
			continue
		}
		for _, v := range d.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil || v.ConfigMap.Name != cm.Metadata.Name {
				continue
			}
			for _, item := range v.ConfigMap.Items {
				if item.Path == path.Base(file) {
					mounted = item.Key
				}
			}
			if len(v.ConfigMap.Items) == 0 {
				mounted = path.Base(file)
			}
		}
	}
	text, ok := cm.Data[mounted]
	if mounted == "" || !ok {
		t.Fatalf("--config %s is not a key of ConfigMap %s mounted into the container", file, cm.Metadata.Name)
	}

	env := make(map[string]string)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret.StringData[ref.Key]
			if ref.Name != secret.Metadata.Name || !ok {
				t.Errorf("env %s refers to secret %s key %s, which secret.example.yaml does not have", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			env[e.Name] = e.Value
		}
	}
	return loadConfig(t, text, midataEnv(env))
}

func TestManifestVariablesAreConfigKeys(t *testing.T) {
	t.Parallel()
	known := knownEnv()
	m := readManifests(t)
	_, c := m.worker(t)
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, o := range m.objects {
		for k := range o.StringData {
			names = append(names, k)
		}
		for k := range o.Data {
			names = append(names, k)
		}
	}
	for _, name := range names {
		if strings.HasPrefix(name, "MIDATA_") && !known[name] {
			t.Errorf("deploy/k8s sets %s, which no config key reads", name)
		}
	}
}

func TestManifestConfigLoadsAndValidates(t *testing.T) {
	t.Parallel()
	m := readManifests(t)
	c := m.serveConfig(t)
	if len(c.Auth.Tokens) == 0 {
		t.Error("the pod gets no API tokens from the Secret")
	}
	if c.HTTP.Addr == config.DefaultHTTPAddr {
		t.Errorf("http.addr is the loopback default %s: probes and the Service could not reach it", c.HTTP.Addr)
	}
	secret := m.one(t, "Secret", nil)
	for k, v := range secret.StringData {
		if !strings.Contains(strings.ToUpper(v), "REPLACE") {
			t.Errorf("secret.example.yaml %s holds a value, not a placeholder", k)
		}
	}
}

func TestDeploymentRunsTwoProbedNonRootWorkers(t *testing.T) {
	t.Parallel()
	m := readManifests(t)
	d, c := m.worker(t)
	cfg := m.serveConfig(t)
	pod := d.Template.Spec

	if d.Replicas != 2 {
		t.Errorf("replicas %d, want 2", d.Replicas)
	}
	for k, v := range d.Selector.MatchLabels {
		if d.Template.Metadata.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods", k, v)
		}
	}

	// The port the config listens on is the container's port "http", and
	// the probes ask it /healthz and /readyz.
	httpPort := port(t, cfg.HTTP.Addr)
	var named int
	for _, p := range c.Ports {
		if p.Name == "http" {
			named = p.ContainerPort
		}
	}
	if named != httpPort {
		t.Errorf("container port http = %d, http.addr %s listens on %d", named, cfg.HTTP.Addr, httpPort)
	}
	for _, pr := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no %s with httpGet", pr.name)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path {
			t.Errorf("%s path %q, want %s", pr.name, pr.probe.HTTPGet.Path, pr.path)
		}
		if p := portOf(t, c, pr.probe.HTTPGet.Port); p != httpPort {
			t.Errorf("%s port %d, want %d (http.addr)", pr.name, p, httpPort)
		}
	}
	// Prometheus scrapes the listener that answers /metrics without a
	// token (http.metrics_addr), a container port of its own.
	metricsPort := port(t, cfg.HTTP.MetricsAddr)
	if got := d.Template.Metadata.Annotations["prometheus.io/port"]; got != strconv.Itoa(metricsPort) {
		t.Errorf("prometheus.io/port %q, want %d (http.metrics_addr)", got, metricsPort)
	}
	if !slices.ContainsFunc(c.Ports, func(p containerPort) bool { return p.Name == "metrics" && p.ContainerPort == metricsPort }) {
		t.Errorf("no container port metrics = %d (http.metrics_addr): %+v", metricsPort, c.Ports)
	}

	// Non-root, no escalation, read-only root: the spill folder and /tmp
	// are writable volumes.
	nonRoot := func(sc securityContext) bool { return sc.RunAsNonRoot != nil && *sc.RunAsNonRoot }
	if !nonRoot(pod.SecurityContext) && !nonRoot(c.SecurityContext) {
		t.Error("neither the pod nor the container sets runAsNonRoot: true")
	}
	for _, sc := range []securityContext{pod.SecurityContext, c.SecurityContext} {
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Error("runAsUser: 0")
		}
	}
	if sc := c.SecurityContext; sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("container securityContext: want allowPrivilegeEscalation false, readOnlyRootFilesystem true, capabilities drop ALL")
	}
	writable := func(dir string) bool {
		for _, vm := range c.VolumeMounts {
			if !vm.ReadOnly && (dir == vm.MountPath || strings.HasPrefix(dir, strings.TrimSuffix(vm.MountPath, "/")+"/")) {
				return true
			}
		}
		return false
	}
	for _, dir := range []string{cfg.TempDir, "/tmp"} {
		if dir == "" || !writable(dir) {
			t.Errorf("temp dir %q is not on a writable volume (the root filesystem is read-only)", dir)
		}
	}

	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no %s request", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}
	if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= time.Duration(cfg.Workers.DrainTimeout) {
		t.Errorf("terminationGracePeriodSeconds %s is not longer than workers.drain_timeout %s: pods would be killed mid-drain",
			grace, cfg.Workers.DrainTimeout)
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks is not false: a Service named midata would add MIDATA_SERVICE_HOST and MIDATA_PORT_* variables")
	}
}

func TestServiceAndBudgetSelectTheWorkers(t *testing.T) {
	t.Parallel()
	m := readManifests(t)
	d, c := m.worker(t)
	cfg := m.serveConfig(t)
	labels := d.Template.Metadata.Labels

	var svc serviceSpec
	m.one(t, "Service", &svc)
	if len(svc.Selector) == 0 {
		t.Fatal("the Service selects nothing")
	}
	for k, v := range svc.Selector {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%s, the workers have %q", k, v, labels[k])
		}
	}
	if len(svc.Ports) == 0 {
		t.Fatal("the Service has no port")
	}
	for _, p := range svc.Ports {
		if got := portOf(t, c, p.TargetPort); got != port(t, cfg.HTTP.Addr) {
			t.Errorf("Service port %s targets %d, http.addr listens on %d", p.Name, got, port(t, cfg.HTTP.Addr))
		}
	}

	var pdb pdbSpec
	m.one(t, "PodDisruptionBudget", &pdb)
	for k, v := range pdb.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%s, the workers have %q", k, v, labels[k])
		}
	}
	if pdb.MinAvailable < 1 || pdb.MinAvailable >= d.Replicas {
		t.Errorf("minAvailable %d of %d replicas: want at least 1 and fewer than all, or drains block", pdb.MinAvailable, d.Replicas)
	}
}

func TestManifestArgsParseAsServeFlags(t *testing.T) {
	t.Parallel()
	_, c := readManifests(t).worker(t)
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("container args %q: want serve …", c.Args)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cl := config.NewCommandLine(config.CommandServe, fs)
	if err := cl.Parse(c.Args[1:]); err != nil || fs.NArg() > 0 {
		t.Errorf("container args %q do not parse as midata serve's flags: %v %q", c.Args, err, fs.Args())
	}
}

// containerPort is one port of a container.
type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}
