// Package charttest renders the Helm chart in deploy/helm/mlship with Helm's own engine
// and checks what it makes: every document decodes strictly into its Kubernetes API
// type (an unknown or mistyped field fails), names are valid, the migrations Job is a
// hook, values that cannot work are refused, and no container runs as root. It is a
// module of its own so that Helm's dependencies stay out of mlship's.
package charttest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

const (
	chartDir  = "../mlship"
	release   = "ml"
	namespace = "mlops"
	fullname  = "ml-mlship"
)

// doc is one rendered Kubernetes object: its kind, name, annotations and the typed
// object it decoded into (nil for kinds without Go types here: ServiceMonitor).
type doc struct {
	file, kind, name string
	annotations      map[string]string
	obj              any
	raw              map[string]any
}

type rendered []doc

func (r rendered) get(t *testing.T, kind, name string) doc {
	t.Helper()
	for _, d := range r {
		if d.kind == kind && d.name == name {
			return d
		}
	}
	t.Fatalf("no %s %q among %v", kind, name, r.names())
	return doc{}
}

func (r rendered) names() []string {
	var s []string
	for _, d := range r {
		s = append(s, d.kind+"/"+d.name)
	}
	sort.Strings(s)
	return s
}

// render runs Helm's template engine on the chart with values (YAML) laid over
// values.yaml, as `helm template` does, and decodes every document.
func render(t *testing.T, values string) (rendered, error) {
	t.Helper()
	chrt, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := common.ReadValues([]byte(values))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	top, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	var out rendered
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".yaml") {
			continue
		}
		for _, text := range strings.Split("\n"+files[p], "\n---") {
			if strings.TrimSpace(text) == "" {
				continue
			}
			out = append(out, decode(t, p, text))
		}
	}
	return out, nil
}

func mustRender(t *testing.T, values string) rendered {
	t.Helper()
	r, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// decode parses one document, checks its name, and decodes it strictly into the Go type
// of its kind: a field the API does not have, or a value of the wrong type, fails.
func decode(t *testing.T, file, text string) doc {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		t.Fatalf("%s: not YAML: %v\n%s", file, err, text)
	}
	if raw == nil {
		t.Fatalf("%s: an empty document:\n%s", file, text)
	}
	d := doc{file: file, raw: raw}
	d.kind, _ = raw["kind"].(string)
	meta, _ := raw["metadata"].(map[string]any)
	d.name, _ = meta["name"].(string)
	if d.kind == "" || d.name == "" {
		t.Fatalf("%s: a document without kind or name:\n%s", file, text)
	}
	if errs := validation.IsDNS1123Subdomain(d.name); len(errs) > 0 || len(d.name) > 63 {
		t.Errorf("%s %s: invalid name: %v", d.kind, d.name, errs)
	}
	if a, ok := meta["annotations"].(map[string]any); ok {
		d.annotations = map[string]string{}
		for k, v := range a {
			s, ok := v.(string)
			if !ok {
				t.Errorf("%s %s: annotation %s is %T, not a string", d.kind, d.name, k, v)
			}
			d.annotations[k] = s
		}
	}
	var obj any
	switch d.kind {
	case "Deployment":
		obj = &appsv1.Deployment{}
	case "Service":
		obj = &corev1.Service{}
	case "Secret":
		obj = &corev1.Secret{}
	case "ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "Job":
		obj = &batchv1.Job{}
	case "Ingress":
		obj = &networkingv1.Ingress{}
	case "NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "ServiceMonitor":
		if raw["apiVersion"] != "monitoring.coreos.com/v1" {
			t.Errorf("ServiceMonitor %s: apiVersion %v", d.name, raw["apiVersion"])
		}
		return d
	default:
		t.Fatalf("%s: unexpected kind %s", file, d.kind)
	}
	if err := yaml.UnmarshalStrict([]byte(text), obj); err != nil {
		t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", file, d.kind, d.name, err, text)
	}
	wantAPI := map[string]string{"Deployment": "apps/v1", "Job": "batch/v1", "Ingress": "networking.k8s.io/v1",
		"NetworkPolicy": "networking.k8s.io/v1", "HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1"}[d.kind]
	if wantAPI == "" {
		wantAPI = "v1"
	}
	if raw["apiVersion"] != wantAPI {
		t.Errorf("%s %s: apiVersion %v, want %s", d.kind, d.name, raw["apiVersion"], wantAPI)
	}
	d.obj = obj
	return d
}

// The values of a team's installation: replicas on PostgreSQL and a bucket, behind an
// ingress, autoscaled, scraped, fenced, with a serving deployment following an alias.
const scaleOut = `
server:
  replicaCount: 3
auth:
  adminPassword: first-start-secret
webhooks:
  secretKey: c2VhbGluZy1rZXktb2YtMzItYnl0ZXMtZXhhY3RseSE=
database:
  uri: postgresql://mlship:db-secret@pg.db.svc:5432/mlship?sslmode=require
artifacts:
  destination: s3://models-bucket/mlship
  s3:
    endpoint: http://minio.storage.svc:9000
    region: eu-west-1
    pathStyle: true
    presignedURLs: true
    accessKeyId: AKIAEXAMPLE
    secretAccessKey: s3-secret
ingress:
  enabled: true
  className: nginx
  hosts:
    - host: mlship.example.com
      paths: [{path: /, pathType: Prefix}]
  tls:
    - secretName: mlship-tls
      hosts: [mlship.example.com]
autoscaling:
  enabled: true
  minReplicas: 3
  maxReplicas: 6
metrics:
  scrapeToken: scrape-secret-0123456789
  serviceMonitor:
    enabled: true
    labels: {release: prometheus}
networkPolicy:
  enabled: true
  from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}
serving:
  serverToken: reader-token
  deployments:
    - name: fraud
      model: models:/fraud@production
      replicas: 3
      tokens: [caller-one-0123456789, caller-two-0123456789]
      args: ["--workers", "2"]
      autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 8}
      ingress: {enabled: true, className: nginx, host: fraud.example.com}
      serviceMonitor: true
    - name: churn
      model: models:/churn@champion
      replicas: 1
      public: true
`

func TestDefaults(t *testing.T) {
	r := mustRender(t, "")
	want := []string{"Deployment/" + fullname, "PersistentVolumeClaim/" + fullname + "-data", "Service/" + fullname, "ServiceAccount/" + fullname}
	if got := r.names(); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	dep := r.get(t, "Deployment", fullname).obj.(*appsv1.Deployment)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v, strategy %s: want 1 replica, Recreate (the SQLite file is locked by one server)", dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "mlship:0.1.0" {
		t.Errorf("image %s", c.Image)
	}
	for _, a := range []string{"server", "--host=0.0.0.0", "--port=5000", "--data-dir=/data", "--auth"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if e := c.Env[0]; e.Name != "POD_IP" || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("the first variable is %+v, want POD_IP from status.podIP (--allowed-hosts names it)", e)
	}
	hosts := argValue(c.Args, "--allowed-hosts")
	for _, h := range []string{fullname, fullname + ".mlops.svc", fullname + ".mlops.svc.cluster.local", "127.0.0.1", "$(POD_IP)"} {
		if !slices.Contains(strings.Split(hosts, ","), h) {
			t.Errorf("--allowed-hosts=%s lacks %s (the Service's name: clients calling it would get 403)", hosts, h)
		}
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--artifacts-destination") }) {
		t.Errorf("artifacts are on the volume by default: %v", c.Args)
	}
	for _, e := range c.Env {
		if e.Name == "MLSHIP_BACKEND_STORE_URI" || e.Name == "AWS_ACCESS_KEY_ID" || e.Name == "MLSHIP_ADMIN_PASSWORD" ||
			e.Name == "MLSHIP_WEBHOOK_SECRET_KEY" {
			t.Errorf("env %s without a database, bucket or password given", e.Name)
		}
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "http" {
		t.Errorf("readiness probe %+v, want GET /readyz on http", p)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", p)
	}
	if p := c.StartupProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("startup probe %+v, want GET /healthz", p)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want a CPU request and a memory limit", c.Resources)
	}
	vols := volumes(dep.Spec.Template.Spec)
	if v := vols["data"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != fullname+"-data" {
		t.Errorf("data volume %+v, want the claim %s-data", v, fullname)
	}
	if v := vols["tmp"]; v.EmptyDir == nil {
		t.Errorf("tmp volume %+v, want an emptyDir", v)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/data"] != "data" || mounts["/tmp"] != "tmp" {
		t.Errorf("mounts %v", mounts)
	}
	pvc := r.get(t, "PersistentVolumeClaim", fullname+"-data")
	if pvc.annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("the data claim is deleted with the release: %v", pvc.annotations)
	}
	svc := r.get(t, "Service", fullname).obj.(*corev1.Service)
	if !subset(svc.Spec.Selector, dep.Spec.Template.Labels) || svc.Spec.Ports[0].Port != 5000 {
		t.Errorf("service selector %v does not select the pods %v, or port %d", svc.Spec.Selector, dep.Spec.Template.Labels, svc.Spec.Ports[0].Port)
	}
	if !subset(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("the deployment's selector %v does not match its pods %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
	}
}

func TestScaleOut(t *testing.T) {
	r := mustRender(t, scaleOut)
	serve := fullname + "-serve-fraud"
	churn := fullname + "-serve-churn"
	want := []string{
		"Deployment/" + fullname, "Deployment/" + churn, "Deployment/" + serve,
		"HorizontalPodAutoscaler/" + fullname, "HorizontalPodAutoscaler/" + serve,
		"Ingress/" + fullname, "Ingress/" + serve,
		"Job/" + fullname + "-migrations",
		"NetworkPolicy/" + fullname, "NetworkPolicy/" + churn, "NetworkPolicy/" + serve,
		"PodDisruptionBudget/" + fullname, "PodDisruptionBudget/" + serve,
		"Secret/" + fullname + "-auth", "Secret/" + fullname + "-database", "Secret/" + fullname + "-metrics",
		"Secret/" + fullname + "-migrations", "Secret/" + fullname + "-s3", "Secret/" + serve + "-tokens",
		"Secret/" + fullname + "-serving-server-token", "Secret/" + fullname + "-webhooks",
		"Service/" + fullname, "Service/" + churn, "Service/" + serve,
		"ServiceAccount/" + fullname,
		"ServiceMonitor/" + fullname, "ServiceMonitor/" + serve,
	}
	sort.Strings(want)
	if got := r.names(); !slices.Equal(got, want) {
		t.Errorf("objects\n%v\nwant\n%v", got, want)
	}

	// The server: no volume (both stores are shared), rolling updates, the HPA sets replicas.
	dep := r.get(t, "Deployment", fullname).obj.(*appsv1.Deployment)
	if dep.Spec.Replicas != nil {
		t.Errorf("replicas %d set beside the HPA, which would fight it", *dep.Spec.Replicas)
	}
	if dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s, want RollingUpdate", dep.Spec.Strategy.Type)
	}
	if v := volumes(dep.Spec.Template.Spec)["data"]; v.EmptyDir == nil || v.PersistentVolumeClaim != nil {
		t.Errorf("data volume %+v, want an emptyDir (a cache)", v)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--artifacts-destination=s3://models-bucket/mlship", "--s3-endpoint=http://minio.storage.svc:9000",
		"--s3-region=eu-west-1", "--s3-path-style", "--s3-presigned-urls", "--metrics-token-file=/etc/mlship/metrics/token"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if !slices.Contains(strings.Split(argValue(c.Args, "--allowed-hosts"), ","), "mlship.example.com") {
		t.Errorf("--allowed-hosts lacks the ingress host: %v", c.Args)
	}
	env := secretEnv(c.Env)
	for name, ref := range map[string]string{
		"MLSHIP_BACKEND_STORE_URI": fullname + "-database/uri", "MLSHIP_ADMIN_PASSWORD": fullname + "-auth/admin-password",
		"MLSHIP_WEBHOOK_SECRET_KEY": fullname + "-webhooks/webhook-secret-key",
		"AWS_ACCESS_KEY_ID":         fullname + "-s3/AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": fullname + "-s3/AWS_SECRET_ACCESS_KEY",
	} {
		if env[name] != ref {
			t.Errorf("env %s from %q, want the secret %s", name, env[name], ref)
		}
	}
	for _, e := range c.Env {
		if e.Value != "" && strings.Contains(e.Value, "secret") {
			t.Errorf("env %s carries a secret in the clear", e.Name)
		}
	}
	if strings.Contains(strings.Join(c.Args, " "), "secret") {
		t.Errorf("args carry a secret: %v", c.Args)
	}
	db := r.get(t, "Secret", fullname+"-database").obj.(*corev1.Secret)
	if db.StringData["uri"] != "postgresql://mlship:db-secret@pg.db.svc:5432/mlship?sslmode=require" {
		t.Errorf("database secret %v", db.StringData)
	}

	// The migrations Job runs `mlship migrate` before install and upgrade, from a hook
	// Secret made before it (the release's own Secret does not exist yet then).
	job := r.get(t, "Job", fullname+"-migrations")
	hookSecret := r.get(t, "Secret", fullname+"-migrations")
	for _, d := range []doc{job, hookSecret} {
		if d.annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
			t.Errorf("%s %s: helm.sh/hook %q", d.kind, d.name, d.annotations["helm.sh/hook"])
		}
		if !strings.Contains(d.annotations["helm.sh/hook-delete-policy"], "before-hook-creation") {
			t.Errorf("%s %s: hook-delete-policy %q", d.kind, d.name, d.annotations["helm.sh/hook-delete-policy"])
		}
	}
	if w, s := weight(t, job), weight(t, hookSecret); s >= w {
		t.Errorf("hook weights: secret %d, job %d: the secret must come first", s, w)
	}
	for _, d := range r {
		if _, ok := d.annotations["helm.sh/hook"]; ok && d.name != job.name && d.name != hookSecret.name {
			t.Errorf("%s %s is a hook too", d.kind, d.name)
		}
	}
	j := job.obj.(*batchv1.Job)
	jc := j.Spec.Template.Spec.Containers[0]
	if jc.Args[0] != "migrate" || argValue(jc.Args, "--wait") != "2m" || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("migrations container args %v, restart %s", jc.Args, j.Spec.Template.Spec.RestartPolicy)
	}
	if e := secretEnv(jc.Env); e["MLSHIP_BACKEND_STORE_URI"] != fullname+"-migrations/uri" {
		t.Errorf("migrations env %v", e)
	}
	if jc.Image != c.Image {
		t.Errorf("migrations image %s, server image %s", jc.Image, c.Image)
	}

	hpa := r.get(t, "HorizontalPodAutoscaler", fullname).obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 6 || hpa.Spec.ScaleTargetRef.Name != fullname || hpa.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("hpa %+v", hpa.Spec)
	}
	pdb := r.get(t, "PodDisruptionBudget", fullname).obj.(*policyv1.PodDisruptionBudget)
	if pdb.Spec.MinAvailable.IntValue() != 1 || !subset(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("pdb %+v", pdb.Spec)
	}
	ing := r.get(t, "Ingress", fullname).obj.(*networkingv1.Ingress)
	if ing.Spec.Rules[0].Host != "mlship.example.com" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != fullname ||
		*ing.Spec.IngressClassName != "nginx" || ing.Spec.TLS[0].SecretName != "mlship-tls" {
		t.Errorf("ingress %+v", ing.Spec)
	}
	sm := r.get(t, "ServiceMonitor", fullname).raw
	ep := sm["spec"].(map[string]any)["endpoints"].([]any)[0].(map[string]any)
	cred := ep["authorization"].(map[string]any)["credentials"].(map[string]any)
	if ep["path"] != "/metrics" || ep["port"] != "http" || cred["name"] != fullname+"-metrics" || cred["key"] != "token" {
		t.Errorf("service monitor endpoint %v", ep)
	}
	if sm["metadata"].(map[string]any)["labels"].(map[string]any)["release"] != "prometheus" {
		t.Errorf("service monitor labels %v", sm["metadata"])
	}
	np := r.get(t, "NetworkPolicy", fullname).obj.(*networkingv1.NetworkPolicy)
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 2 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" {
		t.Errorf("network policy %+v", np.Spec)
	}

	// The serving deployment: `mlship serve` following the alias on this release's server.
	sd := r.get(t, "Deployment", serve).obj.(*appsv1.Deployment)
	sc := sd.Spec.Template.Spec.Containers[0]
	if sc.Args[0] != "serve" || sc.Args[1] != "models:/fraud@production" {
		t.Errorf("serving args %v", sc.Args)
	}
	for _, a := range []string{"--server=http://ml-mlship:5000", "--token-file=/etc/mlship/tokens/tokens", "--host=0.0.0.0", "--cache-dir=/cache", "--workers", "2"} {
		if !slices.Contains(sc.Args, a) {
			t.Errorf("serving args %v lack %s", sc.Args, a)
		}
	}
	if p := sc.ReadinessProbe; p == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("serving readiness %+v, want /readyz (503 until the model has loaded)", p)
	}
	if e := secretEnv(sc.Env); e["MLSHIP_TOKEN"] != fullname+"-serving-server-token/token" {
		t.Errorf("serving env %v", e)
	}
	if sd.Spec.Replicas != nil {
		t.Errorf("serving replicas set beside its HPA")
	}
	tok := r.get(t, "Secret", serve+"-tokens").obj.(*corev1.Secret)
	if tok.StringData["tokens"] != "caller-one-0123456789\ncaller-two-0123456789\n" || tok.StringData["metrics-token"] != "caller-one-0123456789" {
		t.Errorf("tokens secret %q", tok.StringData)
	}
	ssvc := r.get(t, "Service", serve).obj.(*corev1.Service)
	if !subset(ssvc.Spec.Selector, sd.Spec.Template.Labels) || subset(ssvc.Spec.Selector, r.get(t, "Deployment", churn).obj.(*appsv1.Deployment).Spec.Template.Labels) {
		t.Errorf("serving service selector %v selects the wrong pods", ssvc.Spec.Selector)
	}
	if subset(svc(r, t, fullname).Spec.Selector, sd.Spec.Template.Labels) {
		t.Errorf("the server's Service selects serving pods")
	}
	cd := r.get(t, "Deployment", churn).obj.(*appsv1.Deployment)
	cc := cd.Spec.Template.Spec.Containers[0]
	if !slices.Contains(cc.Args, "--public") || slices.ContainsFunc(cc.Args, func(a string) bool { return strings.HasPrefix(a, "--token-file") }) {
		t.Errorf("public serving args %v", cc.Args)
	}
	if *cd.Spec.Replicas != 1 {
		t.Errorf("churn replicas %d", *cd.Spec.Replicas)
	}
}

// Secrets of one's own are referenced, and the chart makes none in their place.
func TestExistingSecrets(t *testing.T) {
	r := mustRender(t, `
server: {replicaCount: 2}
auth: {existingSecret: my-admin}
database: {existingSecret: my-db, existingSecretKey: dsn}
artifacts:
  destination: s3://b/p
  s3: {existingSecret: my-s3}
metrics: {existingSecret: my-scrape}
webhooks: {existingSecret: my-webhooks}
podDisruptionBudget: {enabled: false}
`)
	for _, d := range r {
		if d.kind == "Secret" {
			t.Errorf("the chart made Secret %s though existing ones are named", d.name)
		}
		if d.kind == "PodDisruptionBudget" {
			t.Errorf("a PodDisruptionBudget though it is turned off")
		}
	}
	dep := r.get(t, "Deployment", fullname).obj.(*appsv1.Deployment)
	env := secretEnv(dep.Spec.Template.Spec.Containers[0].Env)
	for name, ref := range map[string]string{"MLSHIP_BACKEND_STORE_URI": "my-db/dsn", "MLSHIP_ADMIN_PASSWORD": "my-admin/admin-password",
		"AWS_ACCESS_KEY_ID": "my-s3/AWS_ACCESS_KEY_ID", "MLSHIP_WEBHOOK_SECRET_KEY": "my-webhooks/webhook-secret-key"} {
		if env[name] != ref {
			t.Errorf("env %s from %q, want %s", name, env[name], ref)
		}
	}
	if v := volumes(dep.Spec.Template.Spec)["metrics-token"]; v.Secret == nil || v.Secret.SecretName != "my-scrape" {
		t.Errorf("metrics token volume %+v", v)
	}
	job := r.get(t, "Job", fullname+"-migrations").obj.(*batchv1.Job)
	if e := secretEnv(job.Spec.Template.Spec.Containers[0].Env); e["MLSHIP_BACKEND_STORE_URI"] != "my-db/dsn" {
		t.Errorf("migrations env %v", e)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d", *dep.Spec.Replicas)
	}
}

// Values that cannot work are refused with a message that says what to change.
func TestRefusals(t *testing.T) {
	cases := []struct{ name, values, want string }{
		{"replicas on SQLite", "server: {replicaCount: 3}", "3 server replicas need PostgreSQL"},
		{"autoscaling on SQLite", "autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 4}", "4 server replicas need PostgreSQL"},
		{"replicas on a local folder", "server: {replicaCount: 2}\ndatabase: {uri: 'postgresql://u:p@h/db'}", "need a shared bucket"},
		{"a destination that is not a bucket", "artifacts: {destination: /mnt/shared}", "only s3://"},
		{"a database that is not PostgreSQL", "database: {uri: 'mysql://h/db'}", "postgresql://"},
		{"no auth", "auth: {enabled: false}", "auth.insecureNoAuth"},
		{"half the S3 keys", "artifacts: {destination: s3://b/p, s3: {accessKeyId: AK}}", "go together"},
		{"autoscaling upside down", "database: {uri: 'postgresql://h/db'}\nartifacts: {destination: s3://b/p}\nautoscaling: {enabled: true, minReplicas: 5, maxReplicas: 3}", "at least autoscaling.minReplicas"},
		{"serving without tokens", "serving: {deployments: [{name: fraud, model: 'models:/fraud@production'}]}", "tokens"},
		{"serving without a model", "serving: {deployments: [{name: fraud, public: true}]}", "needs a name and a model"},
		{"serving with a bad name", "serving: {deployments: [{name: Fraud_1, model: 'models:/f@p', public: true}]}", "DNS label"},
		{"a short admin password", "auth: {adminPassword: short}", "at least 12 characters"},
		{"a short scrape token", "metrics: {scrapeToken: short}", "metrics.scrapeToken must be one word of at least 16"},
		{"a short serving token", "serving: {deployments: [{name: f, model: 'models:/f@p', tokens: [short]}]}", "each token must be one word"},
		{"serving without a server", "server: {enabled: false}\nserving: {deployments: [{name: f, model: 'models:/f@p', public: true}]}", "serving.serverURL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	// And what they are told to do works.
	mustRender(t, "server: {replicaCount: 3}\ndatabase: {uri: 'postgresql://h/db'}\nartifacts: {destination: s3://b/p}")
	mustRender(t, "auth: {enabled: false, insecureNoAuth: true}")
}

// Only serving deployments, pointed at a server elsewhere.
func TestServingOnly(t *testing.T) {
	r := mustRender(t, `
server: {enabled: false}
serving:
  serverURL: https://mlship.example.com
  deployments:
    - {name: fraud, model: 'models:/fraud@production', tokens: [t1-0123456789abcdef]}
`)
	want := []string{"Deployment/ml-mlship-serve-fraud", "PodDisruptionBudget/ml-mlship-serve-fraud", "Secret/ml-mlship-serve-fraud-tokens", "Service/ml-mlship-serve-fraud"}
	if got := r.names(); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	d := r.get(t, "Deployment", "ml-mlship-serve-fraud").obj.(*appsv1.Deployment)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--server=https://mlship.example.com") {
		t.Errorf("args %v", d.Spec.Template.Spec.Containers[0].Args)
	}
}

// No container of any value set runs as root, escalates, keeps capabilities or writes
// its root filesystem; every pod is non-root at the pod level too.
func TestNoRoot(t *testing.T) {
	for name, values := range map[string]string{"defaults": "", "scale-out": scaleOut} {
		r := mustRender(t, values)
		pods := 0
		for _, d := range r {
			var spec *corev1.PodSpec
			switch o := d.obj.(type) {
			case *appsv1.Deployment:
				spec = &o.Spec.Template.Spec
			case *batchv1.Job:
				spec = &o.Spec.Template.Spec
			default:
				continue
			}
			pods++
			where := fmt.Sprintf("%s: %s %s", name, d.kind, d.name)
			ps := spec.SecurityContext
			if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 ||
				ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: pod security context %+v", where, ps)
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Errorf("%s: mounts a service account token", where)
			}
			if spec.HostNetwork || spec.HostPID || spec.HostIPC {
				t.Errorf("%s: shares the host's namespaces", where)
			}
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				s := c.SecurityContext
				if s == nil || s.RunAsNonRoot == nil || !*s.RunAsNonRoot || (s.RunAsUser != nil && *s.RunAsUser == 0) {
					t.Errorf("%s container %s: may run as root: %+v", where, c.Name, s)
					continue
				}
				if s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
					t.Errorf("%s container %s: writable root filesystem", where, c.Name)
				}
				if s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation || (s.Privileged != nil && *s.Privileged) {
					t.Errorf("%s container %s: may escalate", where, c.Name)
				}
				if s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") || len(s.Capabilities.Add) > 0 {
					t.Errorf("%s container %s: capabilities %+v", where, c.Name, s.Capabilities)
				}
				if c.Resources.Limits.Memory().IsZero() {
					t.Errorf("%s container %s: no memory limit", where, c.Name)
				}
				// A read-only root needs somewhere to write: /tmp at least.
				if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) && c.Name != "migrate" {
					t.Errorf("%s container %s: no writable /tmp", where, c.Name)
				}
			}
		}
		if pods == 0 {
			t.Errorf("%s: no pods rendered", name)
		}
	}
}

// helm lint finds nothing to warn about, with the default values and the team's.
func TestLint(t *testing.T) {
	for name, values := range map[string]string{"defaults": "", "scale-out": scaleOut} {
		vals, err := common.ReadValues([]byte(values))
		if err != nil {
			t.Fatal(err)
		}
		l := lint.RunAll(chartDir, vals, namespace)
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %v", name, m)
			} else {
				t.Logf("%s: %v", name, m)
			}
		}
	}
}

func argValue(args []string, flag string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// secretEnv maps each variable taken from a Secret to "secret/key".
func secretEnv(env []corev1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			m[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return m
}

func volumes(spec corev1.PodSpec) map[string]corev1.VolumeSource {
	m := map[string]corev1.VolumeSource{}
	for _, v := range spec.Volumes {
		m[v.Name] = v.VolumeSource
	}
	return m
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func weight(t *testing.T, d doc) int {
	t.Helper()
	var w int
	if _, err := fmt.Sscan(d.annotations["helm.sh/hook-weight"], &w); err != nil {
		t.Fatalf("%s %s: hook weight %q", d.kind, d.name, d.annotations["helm.sh/hook-weight"])
	}
	return w
}

func svc(r rendered, t *testing.T, name string) *corev1.Service {
	return r.get(t, "Service", name).obj.(*corev1.Service)
}

// The flags the chart renders are ones mlship takes: with MLSHIP_BIN naming a built
// mlship, the server's, the migrations Job's and a serving pod's command lines run (their
// paths moved into a temporary directory, their ports onto free ones), the server's
// probes answer, it answers its Service's name and refuses another Host, and the serving
// pod is alive but not ready while its model cannot load.
func TestRenderedCommandsRun(t *testing.T) {
	bin := os.Getenv("MLSHIP_BIN")
	if bin == "" {
		t.Skip("MLSHIP_BIN is not set (make test-chart sets it when bin/mlship exists)")
	}
	r := mustRender(t, `
auth: {adminPassword: admin-password-0123}
metrics: {scrapeToken: scrape-0123456789abcdef}
serving:
  deployments:
    - {name: fraud, model: 'models:/fraud@production', tokens: [t1-0123456789abcdef]}
`)
	dir := t.TempDir()
	for _, sub := range []string{"data", "tmp", "cache", "etc/mlship/metrics", "etc/mlship/tokens"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "etc/mlship/metrics/token"), []byte("scrape-0123456789abcdef\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "etc/mlship/tokens/tokens"), []byte("t1-0123456789abcdef\n"), 0o600)
	relocate := func(args []string, port int) []string {
		var out []string
		for _, a := range args {
			for _, p := range []string{"/data", "/cache", "/etc/mlship/"} {
				a = strings.Replace(a, "="+p, "="+filepath.Join(dir, p)+strings.Repeat("/", strings.Count(p, "/")-1), 1)
			}
			switch {
			case strings.HasPrefix(a, "--port="):
				a = fmt.Sprintf("--port=%d", port)
			case strings.HasPrefix(a, "--server="):
				a = "--server=http://127.0.0.1:1"
			}
			a = strings.ReplaceAll(a, "$(POD_IP)", "10.1.2.3") // as the kubelet expands it
			out = append(out, a)
		}
		return out
	}
	start := func(name string, args []string, env ...string) (stop func(), exited chan struct{}) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		return func() {
			cmd.Process.Signal(os.Interrupt)
			<-exited
			if t.Failed() {
				t.Logf("%s's output:\n%s", name, logs.String())
			}
		}, exited
	}

	// Every flag the chart can render, with everything on, is one the command has.
	full := mustRender(t, scaleOut)
	for _, d := range full {
		dep, ok := d.obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		args := dep.Spec.Template.Spec.Containers[0].Args
		help, err := exec.Command(bin, args[0], "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("mlship %s --help: %v", args[0], err)
		}
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "--") {
				continue
			}
			flag, _, _ := strings.Cut(a, "=")
			if !strings.Contains(string(help), "  "+flag+" ") && !strings.Contains(string(help), ", "+flag+" ") && !strings.Contains(string(help), "  "+flag+"\n") {
				t.Errorf("%s %s: mlship %s has no flag %s", d.kind, d.name, args[0], flag)
			}
		}
	}

	// The migrations Job's command (rendered on PostgreSQL only; none listens here).
	jr := mustRender(t, "database: {uri: 'postgresql://h/db'}")
	jargs := jr.get(t, "Job", fullname+"-migrations").obj.(*batchv1.Job).Spec.Template.Spec.Containers[0].Args
	// Its database is the variable from the Secret: here one where nothing listens, which
	// the Job answers with exit status 4 (unavailable) after --wait, shortened here.
	jargs = slices.DeleteFunc(slices.Clone(jargs), func(a string) bool { return strings.HasPrefix(a, "--wait=") })
	cmd := exec.Command(bin, append(jargs, "--wait=1s", "-o", "json")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MLSHIP_BACKEND_STORE_URI=postgresql://u:p@127.0.0.1:1/db?connect_timeout=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Errorf("mlship %v: %v, want exit status 4\n%s", jargs, err, out)
	}

	// The server.
	c := r.get(t, "Deployment", fullname).obj.(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
	port := freePort(t)
	stop, exited := start("server", relocate(c.Args, port), "MLSHIP_ADMIN_PASSWORD=admin-password-0123", "TMPDIR="+filepath.Join(dir, "tmp"))
	defer stop()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, base+"/readyz", 200, exited)
	// Prometheus scrapes the pod by its IP; clients name the Service; port-forward is loopback.
	for host, want := range map[string]int{"": 200, "localhost:5000": 200, "10.1.2.3:5000": 200, fullname: 200,
		fullname + "." + namespace + ".svc:5000": 200, "evil.example.com": 403, "10.9.9.9:5000": 403} {
		if got := status(t, base+"/metrics", host, "scrape-0123456789abcdef"); got != want {
			t.Errorf("GET /metrics with Host %q: %d, want %d", host, got, want)
		}
	}
	if got := status(t, base+"/readyz", "10.9.9.9:5000", ""); got != 200 {
		t.Errorf("the readiness probe by another address: %d", got)
	}
	if got := status(t, base+"/metrics", "", "scrape-0123456789abcdef"); got != 200 {
		t.Errorf("GET /metrics with the scrape token: %d", got)
	}
	if got := status(t, base+"/metrics", "", ""); got == 200 {
		t.Errorf("GET /metrics without a token: %d", got)
	}

	// A serving pod whose model cannot load: alive, not ready.
	sc := r.get(t, "Deployment", fullname+"-serve-fraud").obj.(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
	sport := freePort(t)
	sstop, sexited := start("serve", relocate(sc.Args, sport), "TMPDIR="+filepath.Join(dir, "tmp"))
	defer sstop()
	sbase := fmt.Sprintf("http://127.0.0.1:%d", sport)
	waitFor(t, sbase+"/healthz", 200, sexited)
	if got := status(t, sbase+"/readyz", "", ""); got != 503 {
		t.Errorf("serving /readyz before the model loaded: %d, want 503", got)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func status(t *testing.T, url, host, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, url string, want int, exited chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if status(t, url, "", "") == want {
			return
		}
		select {
		case <-exited:
			t.Fatalf("the process ended before %s answered %d", url, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not answer %d within 30 s", url, want)
}
