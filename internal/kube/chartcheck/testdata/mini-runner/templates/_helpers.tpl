{{- define "mini.fullname" -}}
{{- if hasPrefix "gitlab-runner" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mini.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "mini.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{- define "mini.env" -}}
- name: CI_SERVER_URL
  value: {{ .Values.gitlabUrl | quote }}
- name: CHECK_INTERVAL
  value: {{ .Values.checkInterval | quote }}
- name: REGISTER_LOCKED
  value: "false"
{{- if not .Values.unregisterRunners }}
- name: KEEP_REGISTERED
  value: "true"
{{- end }}
{{- end -}}
