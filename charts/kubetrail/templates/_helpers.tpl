{{/* Object names: the release name when it holds "kubetrail", else "<release>-kubetrail". */}}
{{- define "kubetrail.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains "kubetrail" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-kubetrail" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object and pod template; dict: root, name (app.kubernetes.io/name), component. */}}
{{- define "kubetrail.labels" -}}
{{ include "kubetrail.selectorLabels" . }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: kubetrail
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The labels a Deployment selects its pods by (immutable: no version in them). */}}
{{- define "kubetrail.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* KUBETRAIL_<NAME>_<OPTION> as lib/kit/options.ts optionEnvName spells it; dict: name, option. */}}
{{- define "kubetrail.optionEnv" -}}
{{- $snake := dict "name" "" "option" "" -}}
{{- range $part := list "name" "option" -}}
{{- $text := regexReplaceAll "([a-z0-9])([A-Z])" (get $ $part) "${1}_${2}" -}}
{{- $_ := set $snake $part (regexReplaceAll "[^A-Za-z0-9]+" $text "_" | upper) -}}
{{- end -}}
{{- printf "KUBETRAIL_%s_%s" $snake.name $snake.option -}}
{{- end -}}

{{/* Where the files of Secrets are mounted; connection files under connection/, a component's under env/. */}}
{{- define "kubetrail.secretsDir" -}}/etc/kubetrail/secrets{{- end -}}

{{/* The connection's files from Secrets: a list of {env, secretName, key, path} (YAML). */}}
{{- define "kubetrail.connectionFiles" -}}
{{- $k := .Values.kafka -}}
{{- $r := .Values.schemaRegistry -}}
{{- $files := list -}}
{{- if $k.tls.ca.secretName -}}{{- $files = append $files (dict "env" "KAFKA_SSL_CA_FILE" "secretName" $k.tls.ca.secretName "key" $k.tls.ca.key "path" "connection/kafka-ca.crt") -}}{{- end -}}
{{- if $k.tls.clientCert.secretName -}}
{{- $files = append $files (dict "env" "KAFKA_SSL_CERT_FILE" "secretName" $k.tls.clientCert.secretName "key" $k.tls.clientCert.certKey "path" "connection/kafka-tls.crt") -}}
{{- $files = append $files (dict "env" "KAFKA_SSL_KEY_FILE" "secretName" $k.tls.clientCert.secretName "key" $k.tls.clientCert.keyKey "path" "connection/kafka-tls.key") -}}
{{- end -}}
{{- if $k.sasl.password.secretName -}}{{- $files = append $files (dict "env" "KAFKA_SASL_PASSWORD_FILE" "secretName" $k.sasl.password.secretName "key" $k.sasl.password.key "path" "connection/kafka-sasl-password") -}}{{- end -}}
{{- if $k.sasl.oauthbearerToken.secretName -}}{{- $files = append $files (dict "env" "KAFKA_SASL_OAUTHBEARER_TOKEN_FILE" "secretName" $k.sasl.oauthbearerToken.secretName "key" $k.sasl.oauthbearerToken.key "path" "connection/kafka-oauthbearer-token") -}}{{- end -}}
{{- if $r.ca.secretName -}}{{- $files = append $files (dict "env" "SCHEMA_REGISTRY_CA_FILE" "secretName" $r.ca.secretName "key" $r.ca.key "path" "connection/registry-ca.crt") -}}{{- end -}}
{{- if $r.clientCert.secretName -}}
{{- $files = append $files (dict "env" "SCHEMA_REGISTRY_CERT_FILE" "secretName" $r.clientCert.secretName "key" $r.clientCert.certKey "path" "connection/registry-tls.crt") -}}
{{- $files = append $files (dict "env" "SCHEMA_REGISTRY_KEY_FILE" "secretName" $r.clientCert.secretName "key" $r.clientCert.keyKey "path" "connection/registry-tls.key") -}}
{{- end -}}
{{- if $r.password.secretName -}}{{- $files = append $files (dict "env" "SCHEMA_REGISTRY_PASSWORD_FILE" "secretName" $r.password.secretName "key" $r.password.key "path" "connection/registry-password") -}}{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{/*
One kubetrail Deployment or Job pod template. dict:
  root; name (app.kubernetes.io/name); component; container (its name); args (the CLI command);
  values (the component's values); env (fixed EnvVars: a list of dicts); http (serves /healthz,
  /readyz, /metrics on 8080); serviceAccountName (only the producer: it talks to the API server);
  affinity (the default when values.affinity is empty); restartPolicy (Jobs); inlineSettings (the
  settings as env entries instead of from <fullname>-config: the topics-init hook, which runs
  before that ConfigMap exists).
*/}}
{{- define "kubetrail.podTemplate" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $image := mergeOverwrite (deepCopy $root.Values.image) ($v.image | default dict) -}}
{{- $files := (include "kubetrail.connectionFiles" $root | fromYaml).files -}}
{{- range $env, $ref := $v.secretFiles -}}
{{- $files = append $files (dict "env" $env "secretName" $ref.secretName "key" $ref.key "path" (printf "env/%s" $env) "own" true) -}}
{{- end -}}
metadata:
  labels:
    {{- include "kubetrail.labels" . | nindent 4 }}
  annotations:
    {{- if .http }}
    prometheus.io/scrape: "true"
    prometheus.io/port: "8080"
    prometheus.io/path: /metrics
    {{- end }}
    # Settings change → pods restart.
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .serviceAccountName }}
  serviceAccountName: {{ .serviceAccountName }}
  # It talks to the API server with this ServiceAccount's token (templates/producer-rbac.yaml).
  automountServiceAccountToken: true
  {{- else }}
  # No Kubernetes API access: no token mounted.
  automountServiceAccountToken: false
  {{- end }}
  {{- if .restartPolicy }}
  restartPolicy: {{ .restartPolicy }}
  {{- else }}
  # The shutdown (finish the transaction, leave the group) has a 25 s deadline.
  terminationGracePeriodSeconds: 30
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- with ($v.affinity | default .affinity) }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .container }}
      image: {{ printf "%s:%s" $image.repository ($image.tag | default $root.Chart.AppVersion) | quote }}
      imagePullPolicy: {{ $image.pullPolicy }}
      args: {{ toJson .args }}
      {{- if or (not .inlineSettings) $root.Values.credentialsSecret.name }}
      envFrom:
        {{- if not .inlineSettings }}
        - configMapRef:
            name: {{ include "kubetrail.fullname" $root }}-config
        {{- end }}
        {{- with $root.Values.credentialsSecret }}
        {{- if .name }}
        - secretRef:
            name: {{ .name }}
            optional: {{ .optional }}
        {{- end }}
        {{- end }}
      {{- end }}
      env:
        {{- if .inlineSettings }}
        {{- range $name, $value := (include "kubetrail.configData" $root | fromYaml) }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
        {{- end }}
        {{- if .http }}
        - name: KUBETRAIL_HTTP_PORT
          value: "8080"
        {{- end }}
        {{- range .env }}
        - {{ toJson . }}
        {{- end }}
        {{- range $files }}
        {{- if .own }}
        - name: {{ .env }}
          value: {{ printf "%s/%s" (include "kubetrail.secretsDir" $root) .path | quote }}
        {{- end }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if .http }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        initialDelaySeconds: 10
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 3
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $files }}
        - name: secrets
          mountPath: {{ include "kubetrail.secretsDir" $root }}
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if $files }}
    - name: secrets
      projected:
        defaultMode: 0440
        sources:
          {{- range $files }}
          - secret:
              name: {{ .secretName }}
              items:
                - key: {{ .key }}
                  path: {{ .path }}
          {{- end }}
    {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for a Deployment of more than one replica; dict: root, name, component, replicas. */}}
{{- define "kubetrail.pdb" -}}
{{- if and .root.Values.podDisruptionBudget.enabled (gt (int .replicas) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "kubetrail.labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "kubetrail.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
