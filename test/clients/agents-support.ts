// What the agent worker tests share: reading the proxy's metrics by label,
// and v2 static key files for a proxy that serves volly-pq.v2.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getKem, toBase64Url } from '@volly/shared';

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
  const pair = getKem('X-Wing').keygen();
  const file = join(mkdtempSync(join(tmpdir(), 'volly-agents-keys-')), 'xwing.json');
  writeFileSync(file, JSON.stringify({ algorithm: 'X-Wing', publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) }));
  return file;
}
