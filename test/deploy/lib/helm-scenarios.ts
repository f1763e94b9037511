// The value sets the chart is rendered with in the helm tests: defaults, and
// the combinations users deploy (Redis and monitoring, host networking and an
// existing Secret, TLS at the proxy).

import type { Scenario } from './helm.ts';

export const SCENARIOS: Scenario[] = [
  { name: 'default values', set: [] },
  {
    name: 'redis + serviceMonitor, 3 replicas',
    set: ['redis.enabled=true', 'metrics.serviceMonitor.enabled=true', 'replicaCount=3'],
  },
  {
    name: 'hostNetwork, LoadBalancer, existingSecret, external Redis, extra LiveKit config',
    set: [
      'hostNetwork=true',
      'service.type=LoadBalancer',
      'service.externalTrafficPolicy=Local',
      'keys.existingSecret=my-keys',
      'livekit.redis.address=redis.example.internal:6379',
      'livekit.rtc.useExternalIp=false',
      'livekit.rtc.nodeIp=203.0.113.7',
      'livekit.config.room.empty_timeout=300',
      'livekit.livenessProbe.enabled=false',
      'proxy.pq.policy=require',
      'proxy.resources.limits.memory=256Mi',
      'metrics.service.enabled=true',
      'replicaCount=2',
    ],
  },
  {
    name: 'TLS at the proxy from a kubernetes.io/tls Secret',
    set: ['proxy.tls.enabled=true', 'proxy.tls.secretName=volly-tls', 'proxy.tls.minVersion=TLSv1.3', 'proxy.tls.groups=X25519MLKEM768/X25519:P-256'],
  },
];
export const TLS_SCENARIO = SCENARIOS[3] as Scenario;
