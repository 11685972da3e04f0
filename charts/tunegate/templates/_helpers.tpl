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

{{/* The Lease that leader election uses, in the release namespace. */}}
{{- define "tunegate.leaseName" -}}
{{- printf "%s-leader" (include "tunegate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The rules for the namespaced resources the operator reconciles, derived from the API calls in
src/controller and src/cli/run.rs (docs/operations.md has the table). The same list serves a
ClusterRole (cluster-wide mode) and a Role in the watched namespace (single-namespace mode).
*/}}
{{- define "tunegate.namespacedRules" -}}
# Watch both kinds (the start-up CRD check is a list of each, so no CRD access is needed).
- apiGroups: ["tunegate.dev"]
  resources: ["trainingdatasets"]
  verbs: ["get", "list", "watch"]
# FineTuneJobs: the tunegate.dev/cleanup finalizer is added and removed with a patch.
- apiGroups: ["tunegate.dev"]
  resources: ["finetunejobs"]
  verbs: ["get", "list", "watch", "patch"]
# Status is written by server-side apply.
# ProviderConfigs: Ready and usage in status; the tunegate.dev/config-in-use finalizer (patch).
- apiGroups: ["tunegate.dev"]
  resources: ["providerconfigs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["tunegate.dev"]
  resources: ["trainingdatasets/status", "finetunejobs/status", "providerconfigs/status"]
  verbs: ["patch"]
# Worker Jobs, generated key Secrets and output ConfigMaps name their owner with
# blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement admission plugin allows only
# to whoever may update the owner's finalizers.
- apiGroups: ["tunegate.dev"]
  resources: ["trainingdatasets/finalizers", "finetunejobs/finalizers"]
  verbs: ["update"]
# Training-data sources (used only if labelled tunegate.dev/training-data=true) and provider
# credentials (by reference): get/list/watch. create: the generated pseudonymization key. patch:
# the tunegate.dev/credentials-in-use finalizer on a credentials Secret while remote objects exist.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Training-data sources (get/list/watch), and the FineTuneJob's output ConfigMap (server-side
# apply: create/patch).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Volume sources: the PVC's tunegate.dev/training-data opt-in label is read before any worker.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get"]
# Worker Jobs that read volume sources or upload their output. A finished upload worker is deleted
# once its result is read, so the next attempt gets a fresh Job; validation workers expire by TTL.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "delete"]
# The worker pod's termination message carries its result.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# Kubernetes Events about the custom resources (a repeated event is patched into a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}


{{/* Cluster-wide mode only: ClusterProviderConfigs and the namespace labels their
namespaceSelector is evaluated on. */}}
{{- define "tunegate.clusterRules" -}}
- apiGroups: ["tunegate.dev"]
  resources: ["clusterproviderconfigs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["tunegate.dev"]
  resources: ["clusterproviderconfigs/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- end -}}
