{{/* The chart's name, and the release's name for its objects (63 characters at most). */}}
{{- define "mlship.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlship.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlship.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mlship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The server's pods. */}}
{{- define "mlship.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "mlship.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "mlship.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlship.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether the metadata database is PostgreSQL (external) rather than SQLite on the volume. */}}
{{- define "mlship.externalDatabase" -}}
{{- if or .Values.database.uri .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "mlship.s3" -}}
{{- if hasPrefix "s3://" (lower .Values.artifacts.destination) }}true{{ end }}
{{- end }}

{{/* The volume holds the SQLite database or the artifacts. */}}
{{- define "mlship.needsVolume" -}}
{{- if or (not (include "mlship.externalDatabase" .)) (not .Values.artifacts.destination) }}true{{ end }}
{{- end }}

{{- define "mlship.databaseSecretName" -}}
{{- default (printf "%s-database" (include "mlship.fullname" .)) .Values.database.existingSecret }}
{{- end }}

{{- define "mlship.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}uri{{ end }}
{{- end }}

{{- define "mlship.s3SecretName" -}}
{{- default (printf "%s-s3" (include "mlship.fullname" .)) .Values.artifacts.s3.existingSecret }}
{{- end }}

{{- define "mlship.s3Credentials" -}}
{{- if or .Values.artifacts.s3.existingSecret (and .Values.artifacts.s3.accessKeyId .Values.artifacts.s3.secretAccessKey) }}true{{ end }}
{{- end }}

{{- define "mlship.authSecretName" -}}
{{- default (printf "%s-auth" (include "mlship.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "mlship.webhooksSecretName" -}}
{{- default (printf "%s-webhooks" (include "mlship.fullname" .)) .Values.webhooks.existingSecret }}
{{- end }}

{{- define "mlship.metricsSecretName" -}}
{{- default (printf "%s-metrics" (include "mlship.fullname" .)) .Values.metrics.existingSecret }}
{{- end }}

{{- define "mlship.metricsToken" -}}
{{- if or .Values.metrics.scrapeToken .Values.metrics.existingSecret }}true{{ end }}
{{- end }}

{{/* The most server pods there may be: replicas, or the autoscaler's maximum. */}}
{{- define "mlship.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.maxReplicas | int }}{{ else }}{{ .Values.server.replicaCount | int }}{{ end }}
{{- end }}

{{/*
Refuses values that cannot work, with a message that says what to change.
*/}}
{{- define "mlship.validate" -}}
{{- if .Values.server.enabled }}
{{- $max := include "mlship.maxReplicas" . | int }}
{{- if gt $max 1 }}
{{- if not (include "mlship.externalDatabase" .) }}
{{- fail (printf "mlship: %d server replicas need PostgreSQL: set database.uri (postgresql://...) or database.existingSecret; a SQLite database belongs to one server (server.replicaCount: 1)" $max) }}
{{- end }}
{{- if not (include "mlship.s3" .) }}
{{- fail (printf "mlship: %d server replicas need a shared bucket: set artifacts.destination to s3://BUCKET/PREFIX; artifacts on the pod's volume are not seen by the other replicas (server.replicaCount: 1)" $max) }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (.Values.autoscaling.maxReplicas | int) (.Values.autoscaling.minReplicas | int)) }}
{{- fail "mlship: autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- if and (not .Values.auth.enabled) (not .Values.auth.insecureNoAuth) }}
{{- fail "mlship: auth.enabled is false: anyone reaching the server could change or delete everything; keep auth on, or set auth.insecureNoAuth: true if something in front of the server authenticates every request" }}
{{- end }}
{{- if and .Values.artifacts.destination (not (include "mlship.s3" .)) }}
{{- fail (printf "mlship: artifacts.destination %q: only s3://BUCKET/PREFIX is supported by the chart (leave it empty for the volume)" .Values.artifacts.destination) }}
{{- end }}
{{- if and (or .Values.artifacts.s3.accessKeyId .Values.artifacts.s3.secretAccessKey) (not (and .Values.artifacts.s3.accessKeyId .Values.artifacts.s3.secretAccessKey)) }}
{{- fail "mlship: artifacts.s3.accessKeyId and artifacts.s3.secretAccessKey go together" }}
{{- end }}
{{- if and .Values.auth.adminPassword (lt (len .Values.auth.adminPassword) 12) }}
{{- fail "mlship: auth.adminPassword needs at least 12 characters" }}
{{- end }}
{{- if and .Values.metrics.scrapeToken (not (regexMatch "^\\S{16,}$" .Values.metrics.scrapeToken)) }}
{{- fail "mlship: metrics.scrapeToken must be one word of at least 16 characters (e.g. from `openssl rand -hex 32`)" }}
{{- end }}
{{- if and .Values.database.uri (not (regexMatch "^postgres(ql)?://" .Values.database.uri)) }}
{{- fail "mlship: database.uri must be a postgresql:// URI (leave it empty for SQLite on the volume)" }}
{{- end }}
{{- end }}
{{- if and (not .Values.server.enabled) .Values.serving.deployments (not .Values.serving.serverURL) }}
{{- fail "mlship: server.enabled is false: serving.serverURL must name the mlship server the serving deployments read models from" }}
{{- end }}
{{- range .Values.serving.deployments }}
{{- if not (and .name .model) }}
{{- fail "mlship: every serving.deployments entry needs a name and a model (models:/NAME@ALIAS)" }}
{{- end }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .name) }}
{{- fail (printf "mlship: serving deployment name %q must be a DNS label (lower case letters, digits and -)" .name) }}
{{- end }}
{{- $d := .name }}
{{- range .tokens }}
{{- if not (regexMatch "^\\S{16,}$" (toString .)) }}
{{- fail (printf "mlship: serving deployment %q: each token must be one word of at least 16 characters (e.g. from `openssl rand -hex 32`)" $d) }}
{{- end }}
{{- end }}
{{- if and (not .public) (not .tokens) (not .tokensExistingSecret) }}
{{- fail (printf "mlship: serving deployment %q listens beyond loopback: give its callers tokens (tokens or tokensExistingSecret), or public: true if anyone may call the model" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Host headers the server answers (--allowed-hosts): its Service's names, loopback, the
pod's IP, the ingress hosts and server.allowedHosts. Probes are answered whatever the Host. */}}
{{- define "mlship.allowedHosts" -}}
{{- $f := include "mlship.fullname" . }}
{{- /* Loopback for kubectl port-forward; the pod's own IP (the POD_IP variable, expanded by
the kubelet) for Prometheus, which scrapes pods by address. */}}
{{- $hosts := list $f (printf "%s.%s" $f .Release.Namespace) (printf "%s.%s.svc" $f .Release.Namespace) (printf "%s.%s.svc.cluster.local" $f .Release.Namespace) "localhost" "127.0.0.1" "[::1]" "$(POD_IP)" }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}{{ $hosts = append $hosts .host }}{{ end }}
{{- end }}
{{- range .Values.server.allowedHosts }}{{ $hosts = append $hosts . }}{{ end }}
{{- join "," (uniq $hosts) }}
{{- end }}

{{/* The server serving deployments read models from. */}}
{{- define "mlship.serverURL" -}}
{{- default (printf "http://%s:%d" (include "mlship.fullname" .) (.Values.service.port | int)) .Values.serving.serverURL }}
{{- end }}

{{/* The pods of one serving deployment: (dict "root" $ "d" deployment). */}}
{{- define "mlship.servingSelectorLabels" -}}
app.kubernetes.io/name: {{ include "mlship.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: serving
mlship.dev/serving: {{ .d.name }}
{{- end }}
