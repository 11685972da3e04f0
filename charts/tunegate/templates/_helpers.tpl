{{/* The chart's name, overridable. */}}
{{- define "tunegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: "<release>" if it already contains the chart name, else "<release>-tunegate". */}}
{{- define "tunegate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tunegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tunegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "tunegate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tunegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tunegate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "tunegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tunegate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tunegate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "tunegate.workerImage" -}}
{{- default (include "tunegate.image" .) .Values.workerImage -}}
{{- end -}}

{{/* The namespace whose resources the operator reconciles in single-namespace mode. */}}
{{- define "tunegate.singleNamespace" -}}
{{- .Values.watchNamespace -}}
{{- end -}}

{{/*
The rules for the namespaced resources the operator reconciles. The same list serves a ClusterRole
(cluster-wide mode) and a Role in the watched namespace (single-namespace mode). Each rule names
the code that needs it; docs/operations.md has the table.
*/}}
{{- define "tunegate.namespacedRules" -}}
# The two custom resources: watch them, add/remove finalizers, write status.
- apiGroups: ["tunegate.dev"]
  resources: ["trainingdatasets", "finetunejobs"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["tunegate.dev"]
  resources: ["trainingdatasets/status", "finetunejobs/status", "trainingdatasets/finalizers", "finetunejobs/finalizers"]
  verbs: ["get", "patch", "update"]
# Training-data sources and provider credentials (read only if labelled tunegate.dev/training-data
# for data; credentials by reference). create: the generated pseudonymization key. patch/update: the
# tunegate.dev/credentials-in-use finalizer on a credentials Secret while remote objects exist.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
# Training-data sources (read), and the FineTuneJob's output ConfigMap (create/patch).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Worker Jobs that read volume sources, and their pods' termination messages.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Kubernetes Events about the custom resources.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
