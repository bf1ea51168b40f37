{{/* Names, labels and the pieces every tasador container shares. */}}

{{- define "tasador.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tasador.fullname" -}}
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

{{/* The name of one component's objects: <fullname>-<component>. */}}
{{- define "tasador.component" -}}
{{- printf "%s-%s" (include "tasador.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tasador.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tasador.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tasador
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "name" "inference-api"). */}}
{{- define "tasador.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tasador.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "tasador.componentLabels" -}}
{{ include "tasador.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "tasador.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tasador.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* <registry>/<repository>/tasador-<component>:<tag>; call with (dict "root" $ "name" "ui"). */}}
{{- define "tasador.image" -}}
{{- $image := .root.Values.image }}
{{- if eq $image.tag "latest" }}
{{- fail "image.tag: name a release's tag (sha-<commit>), never latest" }}
{{- end }}
{{- printf "%s/%s/tasador-%s:%s" $image.registry $image.repository .name $image.tag }}
{{- end }}

{{- define "tasador.mlflowUrl" -}}
{{- printf "http://%s:%v" (include "tasador.component" (dict "root" . "name" "mlflow")) .Values.mlflow.port }}
{{- end }}

{{- define "tasador.apiUrl" -}}
{{- printf "http://%s:%v" (include "tasador.component" (dict "root" . "name" "inference-api")) .Values.inferenceApi.port }}
{{- end }}

{{/* The pod-level security context of every pod: a fixed non-root user, RuntimeDefault seccomp. */}}
{{- define "tasador.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The container-level security context of every container. */}}
{{- define "tasador.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment every tasador container gets: HOME on the writable /tmp, the chart-wide
settings, then the component's own (a map of name to value). Call with (dict "root" $ "env" map). */}}
{{- define "tasador.env" -}}
- name: HOME
  value: /tmp
- name: PYTHONUNBUFFERED
  value: "1"
{{- range $name, $value := .root.Values.settings }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $value := .env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{- define "tasador.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end }}

{{/* The writable folders of every container (its root file system is read-only): /tmp (HOME too)
and the images' state folder and working directory, /var/lib/tasador (TASADOR_STATE_DIR: the
inference log's spill file). Call with (dict "state" SIZE). */}}
{{- define "tasador.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: state
  emptyDir:
    sizeLimit: {{ .state | default "256Mi" }}
{{- end }}

{{- define "tasador.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: /var/lib/tasador
{{- end }}

{{- define "tasador.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* checkov's findings that do not apply, with why (checkov reads `checkov.io/skipN`). Call with
(dict "secretsInEnv" true) for a pod that reads secrets from its environment. */}}
{{- define "tasador.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=images are pinned by their commit tag (sha-<commit>), which the release workflow writes and never moves
checkov.io/skip2: CKV_K8S_15=commit tags are immutable, so IfNotPresent pulls each image once
{{- if .secretsInEnv }}
checkov.io/skip3: CKV_K8S_35=tasador reads its settings (TASADOR_*) from the environment only, as pydantic-settings does; the values come from Secrets, never from the chart
{{- end }}
{{- end }}
