// What the agent worker tests share: reading the proxy's metrics by label,
// and v2 static key files for a proxy that serves volly-pq.v2.

import { kemKeyFile } from '../harness/key-files.ts';

/** Sum of a metric's samples whose labels include every `labels` pair. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    if (Object.entries(labels).every(([k, v]) => (m[1] as string).includes(`${k}="${v}"`))) n += Number(m[2]);
  }
  return n;
}

/** VOLLY_SERVER_KEYS for a fresh X-Wing static key, as `volly-pq keygen --out` writes it. */
export function v2KeyFiles(): string {
  return kemKeyFile();
}
