// Reads the chart's Grafana dashboard (helm/volly-signaling/dashboards) as
// Prometheus sees it: each panel query's metric names and `by (...)` labels,
// checked against the text a running proxy serves on /metrics.

export interface DashboardQuery {
  expr: string;
  /** Every volly_* name the expression reads. */
  metrics: string[];
  /** Labels it groups by. */
  by: string[];
}

interface Panel {
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

/** Every PromQL target of every panel (rows' panels included). */
export function dashboardQueries(dashboard: { panels?: Panel[] }): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (panels: Panel[] = []): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (!t.expr) continue;
        const metrics = [...new Set([...t.expr.matchAll(/\bvolly_[a-z0-9_]+\b/g)].map((m) => m[0]))];
        const by = [...new Set([...t.expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((l) => l.trim())))].filter(
          (l) => l !== '' && l !== 'le',
        );
        out.push({ expr: t.expr, metrics, by });
      }
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

const SERIES_SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * What the queries use that `metricsText` lacks: a name with no `# TYPE`
 * (a histogram's _bucket/_sum/_count count as its own), or a grouping label
 * absent from every sample of a metric that has samples (a metric nothing
 * has touched yet shows no labels, so it cannot be checked for them).
 */
export function missingFromMetrics(queries: DashboardQuery[], metricsText: string): string[] {
  const types = new Map([...metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const known = (name: string): boolean => {
    if (types.has(name)) return true;
    const suffix = SERIES_SUFFIXES.find((s) => name.endsWith(s));
    return suffix !== undefined && ['histogram', 'summary'].includes(types.get(name.slice(0, -suffix.length)) ?? '');
  };
  const samples = (name: string): string[] => metricsText.split('\n').filter((l) => l.startsWith(`${name}{`));
  const missing: string[] = [];
  for (const q of queries) {
    for (const m of q.metrics) if (!known(m)) missing.push(m);
    for (const m of q.metrics) {
      const lines = samples(m);
      if (lines.length === 0) continue;
      for (const label of q.by) if (!lines.some((l) => l.includes(`{${label}="`) || l.includes(`,${label}="`))) missing.push(`${m} by ${label}`);
    }
  }
  return [...new Set(missing)];
}
