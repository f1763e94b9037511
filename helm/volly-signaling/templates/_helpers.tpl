{{/* Chart name, truncated to the 63 characters DNS names allow. */}}
{{- define "volly-signaling.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already contains the chart name. */}}
{{- define "volly-signaling.fullname" -}}
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

{{- define "volly-signaling.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource, without the component. */}}
{{- define "volly-signaling.commonLabels" -}}
helm.sh/chart: {{ include "volly-signaling.chart" . }}
app.kubernetes.io/name: {{ include "volly-signaling.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "volly-signaling.labels" -}}
{{ include "volly-signaling.commonLabels" . }}
app.kubernetes.io/component: signaling
{{- end }}

{{- define "volly-signaling.selectorLabels" -}}
app.kubernetes.io/name: {{ include "volly-signaling.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: signaling
{{- end }}

{{- define "volly-signaling.redis.fullname" -}}
{{- printf "%s-redis" (include "volly-signaling.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "volly-signaling.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "volly-signaling.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "volly-signaling.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "volly-signaling.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding LIVEKIT_KEYS, VOLLY_UPSTREAM_KEY and VOLLY_UPSTREAM_SECRET. */}}
{{- define "volly-signaling.secretName" -}}
{{- if .Values.keys.existingSecret }}
{{- .Values.keys.existingSecret }}
{{- else }}
{{- printf "%s-keys" (include "volly-signaling.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "volly-signaling.proxyImage" -}}
{{- printf "%s:%s" .Values.proxy.image.repository (default .Chart.AppVersion .Values.proxy.image.tag) }}
{{- end }}

{{- define "volly-signaling.livekitImage" -}}
{{- printf "%s:%s" .Values.livekit.image.repository .Values.livekit.image.tag }}
{{- end }}

{{/* The Redis address LiveKit uses, or "" for single-node mode. */}}
{{- define "volly-signaling.redisAddress" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s:%d" (include "volly-signaling.redis.fullname" .) (int .Values.redis.port) }}
{{- else }}
{{- .Values.livekit.redis.address }}
{{- end }}
{{- end }}

{{/*
livekit.yaml. LiveKit binds 127.0.0.1 only, so nothing outside the pod but the
proxy reaches its signaling port. No keys here: LIVEKIT_KEYS (the upstream key)
comes from the Secret through the container's environment.
*/}}
{{- define "volly-signaling.livekitConfig" -}}
{{- $forbidden := list "keys" "key_file" "port" "bind_addresses" }}
{{- range $k := $forbidden }}
{{- if hasKey $.Values.livekit.config $k }}
{{- fail (printf "livekit.config.%s is managed by the chart and must not be set" $k) }}
{{- end }}
{{- end }}
{{- $rtc := dict "tcp_port" (int .Values.livekit.rtc.tcpPort) "udp_port" (int .Values.livekit.rtc.udpPort) "use_external_ip" .Values.livekit.rtc.useExternalIp }}
{{- $conf := dict "port" (int .Values.livekit.port) "bind_addresses" (list "127.0.0.1") "rtc" $rtc }}
{{- $redis := include "volly-signaling.redisAddress" . }}
{{- if $redis }}
{{- $_ := set $conf "redis" (dict "address" $redis) }}
{{- end }}
{{- $merged := mergeOverwrite $conf (deepCopy .Values.livekit.config) }}
{{- toYaml $merged }}
{{- end }}

{{/* VOLLY_REDIS_URL: proxy.redisUrl, else the Redis LiveKit uses, else "". */}}
{{- define "volly-signaling.proxyRedisUrl" -}}
{{- if .Values.proxy.redisUrl }}
{{- .Values.proxy.redisUrl }}
{{- else if include "volly-signaling.redisAddress" . }}
{{- printf "redis://%s" (include "volly-signaling.redisAddress" .) }}
{{- end }}
{{- end }}

{{/* Where the server-keys Secret is mounted in the proxy container. */}}
{{- define "volly-signaling.serverKeysDir" -}}
/etc/volly/server-keys
{{- end }}

{{/* VOLLY_SERVER_KEYS: the listed Secret entries under the mount, in order. */}}
{{- define "volly-signaling.serverKeysEnv" -}}
{{- $dir := include "volly-signaling.serverKeysDir" . }}
{{- $paths := list }}
{{- range .Values.proxy.serverKeys.files }}
{{- $paths = append $paths (printf "%s/%s" $dir .) }}
{{- end }}
{{- join "," $paths }}
{{- end }}

{{- define "volly-signaling.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "volly-signaling.redisAddress" .)) }}
{{- fail "replicaCount > 1 needs Redis: set redis.enabled=true or livekit.redis.address" }}
{{- end }}
{{- if not (has .Values.proxy.pq.policy (list "prefer" "require")) }}
{{- fail "proxy.pq.policy must be prefer or require" }}
{{- end }}
{{- if and (not .Values.keys.existingSecret) .Values.keys.upstreamSecret (lt (len .Values.keys.upstreamSecret) 32) }}
{{- fail "keys.upstreamSecret must be at least 32 characters" }}
{{- end }}
{{- if and .Values.proxy.tls.enabled (not .Values.proxy.tls.secretName) }}
{{- fail "proxy.tls.enabled needs proxy.tls.secretName: a kubernetes.io/tls Secret with tls.crt and tls.key" }}
{{- end }}
{{- if not (has .Values.proxy.tls.minVersion (list "TLSv1.2" "TLSv1.3")) }}
{{- fail "proxy.tls.minVersion must be TLSv1.2 or TLSv1.3" }}
{{- end }}
{{- $sk := .Values.proxy.serverKeys }}
{{- if and $sk.secretName (not $sk.files) }}
{{- fail "proxy.serverKeys.secretName needs proxy.serverKeys.files: the Secret's key files in VOLLY_SERVER_KEYS order, the current v2 key first" }}
{{- end }}
{{- if and $sk.files (not $sk.secretName) }}
{{- fail "proxy.serverKeys.files needs proxy.serverKeys.secretName: the Secret holding those volly-pq keygen files" }}
{{- end }}
{{- range $sk.files }}
{{- if not (regexMatch "^[A-Za-z0-9._-]+$" .) }}
{{- fail (printf "proxy.serverKeys.files: %q is not a Secret entry name (letters, digits, . _ -)" .) }}
{{- end }}
{{- end }}
{{- $protocols := splitList "," (nospace .Values.proxy.protocols) }}
{{- if and (has "v2" $protocols) (not $sk.secretName) }}
{{- fail "proxy.protocols includes v2, which needs a KEM static key: make one with `volly-pq keygen --algorithm X-Wing --out v2-a.json`, `kubectl create secret generic volly-server-keys --from-file=v2-a.json`, then set proxy.serverKeys.secretName=volly-server-keys and proxy.serverKeys.files={v2-a.json}" }}
{{- end }}
{{- range $protocols }}
{{- if and . (not (has . (list "v1" "v2"))) }}
{{- fail (printf "proxy.protocols: %q is not v1 or v2" .) }}
{{- end }}
{{- end }}
{{- if eq (int .Values.livekit.port) (int .Values.proxy.port) }}
{{- fail "livekit.port and proxy.port must differ: both share the pod's network" }}
{{- end }}
{{- end }}
