// The proxy's Prometheus text (its admin /metrics), read the one way every
// suite reads it: parsed into `name{labels}` → value, then summed or picked
// by label. Labels are matched either as a substring of the `{...}` part
// ('code="4502"', or 'reason=' for "has a reason label") or as exact pairs.

/** One scrape: `name` or `name{a="x",b="y"}` (as the proxy prints it) → value. */
export type Metrics = Map<string, number>;

/** Which series count: a substring of the series key, or label pairs that must all be present. */
export type LabelMatch = string | Record<string, string>;

export function parseMetrics(text: string): Metrics {
  const out: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The label pairs of a series key (`name{a="x"}` → { a: 'x' }). */
export function labelsOf(key: string): Record<string, string> {
  const open = key.indexOf('{');
  if (open < 0) return {};
  return Object.fromEntries([...key.slice(open + 1, key.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

function series(src: Metrics | string, name: string): Array<[string, number]> {
  const m = typeof src === 'string' ? parseMetrics(src) : src;
  return [...m].filter(([k]) => k === name || k.startsWith(`${name}{`));
}

function matches(key: string, match: LabelMatch): boolean {
  if (typeof match === 'string') return key.includes(match);
  const got = labelsOf(key);
  return Object.entries(match).every(([k, v]) => got[k] === v);
}

/** Sum of every series of `name` that `match` selects (all of them by default); 0 when none. */
export function metricSum(src: Metrics | string, name: string, match: LabelMatch = ''): number {
  let total = 0;
  for (const [k, v] of series(src, name)) if (matches(k, match)) total += v;
  return total;
}

/** The one series of `name` with exactly these labels (no more, no fewer), or 0. */
export function metricValue(src: Metrics | string, name: string, labels: Record<string, string>): number {
  const want = Object.keys(labels).length;
  for (const [k, v] of series(src, name)) if (Object.keys(labelsOf(k)).length === want && matches(k, labels)) return v;
  return 0;
}

/** GET `${adminUrl}/metrics`, parsed. */
export async function scrapeMetrics(adminUrl: string, timeoutMs = 15_000): Promise<Metrics> {
  const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  return parseMetrics(await res.text());
}
