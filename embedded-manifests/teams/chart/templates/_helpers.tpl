{{- define "team.namespace" -}}team-{{ required "a team file must set name" .Values.name }}{{- end -}}
{{- define "team.group" -}}slipway:team:{{ .Values.name }}{{- end -}}
{{- define "team.labels" -}}
app.kubernetes.io/managed-by: slipway
slipway.dev/team: {{ .Values.name | quote }}
{{- end -}}
{{- define "team.subjects" -}}
- { apiGroup: rbac.authorization.k8s.io, kind: Group, name: {{ include "team.group" . | quote }} }
{{- with .Values.githubTeam }}
- { apiGroup: rbac.authorization.k8s.io, kind: Group, name: {{ replace "/" ":" . | quote }} }
{{- end }}
{{- range .Values.members }}
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: {{ . | quote }} }
{{- end }}
{{- end -}}
