{{/*
The names ack-virtual-node users already type are part of the interface, so they are fixed, not derived
from the release name: Deployment, ServiceAccount and Service kube-system/ack-virtual-node-controller.
*/}}
{{- define "evn.name" -}}ack-virtual-node-controller{{- end -}}

{{- define "evn.selectorLabels" -}}
app: {{ include "evn.name" . }}
{{- end -}}

{{- define "evn.labels" -}}
{{ include "evn.selectorLabels" . }}
app.kubernetes.io/name: eci-virtual-node
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "evn.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The controller reads kube-system/eci-profile and kube-system/alibaba-addon-secret, as ACK does. */}}
{{- define "evn.checkNamespace" -}}
{{- if ne .Release.Namespace "kube-system" -}}
{{- fail (printf "install into kube-system (helm install -n kube-system ...): the controller's secret, eci-profile and webhook live there; got namespace %q" .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* How the controller (and the uninstall hook) authenticates to ECI: credentials.mode. */}}
{{- define "evn.credentialsEnv" -}}
{{- $mode := .Values.credentials.mode }}
{{- if eq $mode "secret" }}
- name: ECI_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: alibaba-addon-secret
      key: access-key-id
      optional: true
- name: ECI_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: alibaba-addon-secret
      key: access-key-secret
      optional: true
{{- else if eq $mode "ramRole" }}
# The ECS RAM role, from the instance metadata service (STS credentials, renewed).
- name: ALIBABA_CLOUD_ECS_METADATA
  value: {{ .Values.credentials.ramRole.roleName | quote }}
{{- else if eq $mode "rrsa" }}
- name: ALIBABA_CLOUD_ROLE_ARN
  value: {{ .Values.credentials.rrsa.roleArn | quote }}
- name: ALIBABA_CLOUD_OIDC_PROVIDER_ARN
  value: {{ .Values.credentials.rrsa.oidcProviderArn | quote }}
- name: ALIBABA_CLOUD_OIDC_TOKEN_FILE
  value: /var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token
{{- end }}
{{- end -}}

{{/* The ECI endpoint settings shared by the controller and the uninstall hook. */}}
{{- define "evn.eciEnv" -}}
- name: ECI_REGION
  value: {{ .Values.eci.region | quote }}
{{- with .Values.eci.endpoint }}
- name: ECI_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.eci.protocol }}
- name: ECI_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- end -}}
