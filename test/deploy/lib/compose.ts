// Small, strict readers for what `docker compose` does before validating a
// file: .env parsing, ${VAR} interpolation, the ports syntaxes, and the
// merge of an override file (`-f a.yml -f b.yml`).

/** KEY=VALUE lines; `#` comments, blank lines, optional single or double quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, line] of text.split('\n').entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
    if (!m) throw new Error(`.env line ${i + 1} is not KEY=VALUE: ${line}`);
    const [, key = '', rawValue = ''] = m;
    const quoted = /^(["'])(.*)\1$/.exec(rawValue);
    out[key] = quoted ? (quoted[2] ?? '') : rawValue.replace(/\s+#.*$/, '');
  }
  return out;
}

const VAR = /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

function interpolateString(s: string, env: Record<string, string>): string {
  return s.replace(VAR, (_all, dollar, braced, op, arg, bare) => {
    if (dollar) return '$';
    const name: string = braced ?? bare;
    const value = env[name];
    const unsetOrEmpty = value === undefined || value === '';
    switch (op as string | undefined) {
      case undefined:
        return value ?? '';
      case ':-':
        return unsetOrEmpty ? arg : (value as string);
      case '-':
        return value === undefined ? arg : value;
      case ':?':
        if (unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value as string;
      case '?':
        if (value === undefined) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value;
      case ':+':
        return unsetOrEmpty ? '' : arg;
      case '+':
        return value === undefined ? '' : arg;
      default:
        throw new Error(`unsupported interpolation ${op} in ${s}`);
    }
  });
}

/** Interpolates every string value (not keys), as compose does. */
export function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolateString(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

export interface PublishedPort {
  /** Host port ('' or undefined: none or an ephemeral one). */
  published?: string;
  /** Container port. */
  target: number;
  protocol: string;
  hostIp?: string;
}

function expandRange(spec: string): number[] {
  const [a, b] = spec.split('-');
  const lo = Number(a);
  const hi = b === undefined ? lo : Number(b);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new Error(`bad port ${spec}`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** The entries of a service's `ports:`, short or long syntax, one per container port. */
export function publishedPorts(ports: unknown[] | undefined): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const entry of ports ?? []) {
    if (typeof entry === 'number') {
      out.push({ target: entry, protocol: 'tcp' });
    } else if (typeof entry === 'string') {
      const [spec = '', protocol = 'tcp'] = entry.split('/');
      const colon = spec.lastIndexOf(':');
      const container = spec.slice(colon + 1);
      const rest = colon < 0 ? '' : spec.slice(0, colon);
      const hostColon = rest.lastIndexOf(':');
      const host = hostColon < 0 ? rest : rest.slice(hostColon + 1);
      const hostIp = hostColon < 0 ? undefined : rest.slice(0, hostColon).replace(/^\[|\]$/g, '');
      const targets = expandRange(container);
      const hosts = host === '' ? [] : expandRange(host);
      targets.forEach((target, i) => {
        const published = hosts.length === 0 ? undefined : String(hosts.length === 1 ? hosts[0] : hosts[i]);
        out.push({
          target,
          protocol,
          ...(published !== undefined ? { published } : {}),
          ...(hostIp ? { hostIp } : {}),
        });
      });
    } else if (entry !== null && typeof entry === 'object') {
      const e = entry as { target: number | string; published?: number | string; protocol?: string; host_ip?: string };
      out.push({
        target: Number(e.target),
        protocol: e.protocol ?? 'tcp',
        ...(e.published !== undefined ? { published: String(e.published) } : {}),
        ...(e.host_ip ? { hostIp: e.host_ip } : {}),
      });
    } else {
      throw new Error(`unknown ports entry ${JSON.stringify(entry)}`);
    }
  }
  return out;
}

/** The container path of a short-syntax volume ("src:target[:mode]") or a long-syntax one ({ target }). */
function mountTarget(v: unknown): string {
  if (typeof v === 'string') return v.split(':')[1] ?? v;
  return String((v as { target?: unknown }).target);
}

/**
 * `docker compose -f base -f override`: mappings merge key by key (the
 * override wins), `volumes`/`devices` merge by container path, other
 * sequences (ports, expose, ...) are joined without duplicates, as the
 * Compose Specification's merge rules say for the keys these files use.
 */
export function mergeCompose(base: unknown, override: unknown, key = ''): unknown {
  if (Array.isArray(base) && Array.isArray(override)) {
    if (key === 'volumes' || key === 'devices') {
      const byTarget = new Map(base.map((v) => [mountTarget(v), v] as const));
      for (const v of override) byTarget.set(mountTarget(v), v);
      return [...byTarget.values()];
    }
    return [...base, ...override.filter((v) => !base.some((b) => JSON.stringify(b) === JSON.stringify(v)))];
  }
  if (base && override && typeof base === 'object' && typeof override === 'object' && !Array.isArray(base) && !Array.isArray(override)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(override)) out[k] = k in out ? mergeCompose(out[k], v, k) : v;
    return out;
  }
  return override;
}
