{{- define "esw.name" -}}external-secrets-webhook{{- end -}}
{{- define "esw.fullname" -}}{{ default "external-secrets-webhook" .Values.fullnameOverride }}{{- end -}}
{{- define "esw.serviceAccount" -}}{{ include "esw.fullname" . }}{{- end -}}
{{- define "esw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "esw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}
{{- define "esw.labels" -}}
{{ include "esw.selectorLabels" . }}
app.kubernetes.io/part-of: external-secrets-webhook
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "esw.image" -}}{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}{{- end -}}
{{- define "esw.excludedNamespaces" -}}
{{- $list := list .Release.Namespace -}}
{{- range .Values.excludedNamespaces }}{{- if not (has . $list) }}{{- $list = append $list . -}}{{- end }}{{- end -}}
{{- toJson $list -}}
{{- end -}}
{{- define "esw.injectCA" -}}
{{- if eq .Values.certificates.mode "cert-manager" }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "esw.fullname" . }}-serving
{{- end }}
{{- end -}}
{{- define "esw.caBundle" -}}
{{- if eq .Values.certificates.mode "secret" }}
      caBundle: {{ required "certificates.caBundle is required when certificates.mode=secret" .Values.certificates.caBundle }}
{{- end }}
{{- end -}}
{{- define "esw.webhookCommon" }}
    admissionReviewVersions: [v1]
    sideEffects: None
    timeoutSeconds: {{ .Values.timeoutSeconds }}
    failurePolicy: {{ .Values.failurePolicy }}
    matchPolicy: Equivalent
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: {{ include "esw.excludedNamespaces" . }}
    matchConditions:
      # The refresher's own writes carry resolved values; skipping them keeps the webhook off
      # the refresher's write path (no self-dependency during an outage).
      - name: not-the-refresher
        expression: "request.userInfo.username != 'system:serviceaccount:{{ .Release.Namespace }}:{{ include "esw.serviceAccount" . }}'"
{{- end -}}

{{/* --generic-target-kinds: ConfigMap, or group/version/Kind of a custom resource. */}}
{{- define "esw.genericTargetKinds" -}}
{{- $out := list -}}
{{- range .Values.genericTargets.kinds -}}
{{- if kindIs "string" . -}}
{{- $out = append $out . -}}
{{- else -}}
{{- $out = append $out (printf "%s/%s" .apiVersion .kind) -}}
{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}
