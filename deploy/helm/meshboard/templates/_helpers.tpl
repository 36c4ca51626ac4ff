{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "meshboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; kept short because components append "-worker" etc. */}}
{{- define "meshboard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "meshboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels; each template adds app.kubernetes.io/component. */}}
{{- define "meshboard.labels" -}}
helm.sh/chart: {{ include "meshboard.chart" . }}
{{ include "meshboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "meshboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "meshboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meshboard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "meshboard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "meshboard.secretName" -}}
{{- default (printf "%s-secrets" (include "meshboard.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* Host header of the web probes: it must be in ALLOWED_HOSTS. */}}
{{- define "meshboard.probeHost" -}}
{{- if .Values.web.probeHost }}
{{- .Values.web.probeHost }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- (first .Values.ingress.hosts).host }}
{{- else }}
{{- include "meshboard.fullname" . }}-web
{{- end }}
{{- end }}

{{/* ALLOWED_HOSTS: the probe host, the ingress hosts and settings.allowedHosts. */}}
{{- define "meshboard.allowedHosts" -}}
{{- include "meshboard.allowedHostsList" . | trimSuffix "," }}
{{- end }}

{{- define "meshboard.allowedHostsList" -}}
{{- if or .Values.web.probeHost (not .Values.ingress.enabled) }}
{{- include "meshboard.probeHost" . }},
{{- end }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}{{ .host }},{{ end }}
{{- end }}
{{- range .Values.settings.allowedHosts }}{{ . }},{{ end }}
{{- end }}

{{/*
Non-secret settings as a flat map of strings: the ConfigMap's data, and the migration hook's
env (a pre-install hook runs before the ConfigMap exists). Integers go through `int` because
Helm reads numbers from values files as float64 and would print 31536000 as 3.1536e+07.
*/}}
{{- define "meshboard.config" -}}
MESHBOARD_ENV: "production"
DEBUG: "false"
ALLOWED_HOSTS: {{ include "meshboard.allowedHosts" . | quote }}
CSRF_TRUSTED_ORIGINS: {{ join "," .Values.settings.csrfTrustedOrigins | quote }}
LOG_LEVEL: {{ .Values.settings.logLevel | quote }}
MESHBOARD_TRIBE_LABEL: {{ .Values.settings.tribeLabel | quote }}
MESHBOARD_SQUAD_LABEL: {{ .Values.settings.squadLabel | quote }}
MESHBOARD_EXTRA_SYSTEM_NAMESPACES: {{ join "," .Values.settings.extraSystemNamespaces | quote }}
MESHBOARD_BEAT_TICK_SECONDS: {{ .Values.settings.beatTickSeconds | int | quote }}
MESHBOARD_KUBE_CONNECT_TIMEOUT: {{ .Values.settings.kubeConnectTimeout | quote }}
MESHBOARD_KUBE_READ_TIMEOUT: {{ .Values.settings.kubeReadTimeout | quote }}
MESHBOARD_KUBE_PAGE_SIZE: {{ .Values.settings.kubePageSize | int | quote }}
MESHBOARD_POLL_SOFT_TIME_LIMIT: {{ .Values.settings.pollSoftTimeLimit | int | quote }}
MESHBOARD_POLL_TIME_LIMIT: {{ .Values.settings.pollTimeLimit | int | quote }}
MESHBOARD_RETENTION_FULL_DAYS: {{ .Values.settings.retentionFullDays | int | quote }}
MESHBOARD_RETENTION_DAILY_DAYS: {{ .Values.settings.retentionDailyDays | int | quote }}
MESHBOARD_CREDENTIALS_DIRS: "/etc/meshboard/kubeconfigs"
SECURE_SSL_REDIRECT: {{ .Values.settings.secureSslRedirect | quote }}
SECURE_HSTS_SECONDS: {{ .Values.settings.secureHstsSeconds | int | quote }}
SECURE_HSTS_INCLUDE_SUBDOMAINS: {{ .Values.settings.secureHstsIncludeSubdomains | quote }}
SECURE_HSTS_PRELOAD: {{ .Values.settings.secureHstsPreload | quote }}
SECURE_PROXY_SSL_HEADER: {{ .Values.settings.secureProxySslHeader | quote }}
FORWARDED_ALLOW_IPS: {{ .Values.settings.forwardedAllowIps | quote }}
WEB_CONCURRENCY: {{ .Values.web.concurrency | int | quote }}
WORKER_CONCURRENCY: {{ .Values.worker.concurrency | int | quote }}
{{- end }}

{{/* Secrets as files (settings.py reads NAME_FILE), plus extraEnv. */}}
{{- define "meshboard.env" -}}
- name: SECRET_KEY_FILE
  value: /run/secrets/meshboard/secret-key
- name: DATABASE_URL_FILE
  value: /run/secrets/meshboard/database-url
- name: REDIS_URL_FILE
  value: /run/secrets/meshboard/redis-url
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "meshboard.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: secrets
  mountPath: /run/secrets/meshboard
  readOnly: true
{{- end }}

{{- define "meshboard.volumes" -}}
- name: tmp
  emptyDir: {}
- name: secrets
  secret:
    secretName: {{ include "meshboard.secretName" . }}
    defaultMode: 288 # 0440: readable by fsGroup 10001
    items:
      - key: {{ .Values.secrets.secretKeyKey }}
        path: secret-key
      - key: {{ .Values.secrets.databaseUrlKey }}
        path: database-url
      - key: {{ .Values.secrets.redisUrlKey }}
        path: redis-url
{{- end }}

{{/* Pod-level fields shared by every meshboard pod. */}}
{{- define "meshboard.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
