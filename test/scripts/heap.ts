// Compares two V8 heap snapshots of the proxy (from `npm run bench --
// --only=scale --profile`: baseline and first scale level) and prints what
// the sessions in between cost, by constructor: count and self bytes per session.
//
//   node test/scripts/heap.ts BASE.heapsnapshot LOADED.heapsnapshot SESSIONS [--top=30]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export type HeapCensus = Map<string, { count: number; bytes: number }>;

/** Self size and count per (type, constructor name) of every node in a snapshot. */
export function census(file: string): HeapCensus {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const out: HeapCensus = new Map();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType] as number] ?? '?';
    let name = type === 'object' || type === 'closure' || type === 'native' ? (s.strings[s.nodes[i + iName] as number] ?? '?') : `(${type})`;
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = type === 'closure' ? `${name}()` : name;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + iSize] as number;
    out.set(key, e);
  }
  return out;
}

export function perSession(
  base: HeapCensus,
  loaded: HeapCensus,
  sessions: number,
  top = 30,
): { rows: Array<{ name: string; count: number; bytes: number }>; totalBytes: number } {
  const rows: Array<{ name: string; count: number; bytes: number }> = [];
  let total = 0;
  for (const [name, e] of loaded) {
    const b = base.get(name) ?? { count: 0, bytes: 0 };
    const bytes = (e.bytes - b.bytes) / sessions;
    total += bytes;
    rows.push({ name, count: (e.count - b.count) / sessions, bytes });
  }
  rows.sort((a, b) => b.bytes - a.bytes);
  return { rows: rows.slice(0, top), totalBytes: total };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  const [a, b, n] = positionals;
  if (!a || !b || !n) throw new Error('usage: node test/scripts/heap.ts BASE.heapsnapshot LOADED.heapsnapshot SESSIONS');
  const r = perSession(census(a), census(b), Number(n), Number(values.top ?? 30));
  process.stdout.write(
    `JS heap per session: ${(r.totalBytes / 1024).toFixed(1)} KiB (self sizes, all objects)\n\n| per session: objects | bytes | constructor |\n| --: | --: | :-- |\n`,
  );
  for (const x of r.rows) process.stdout.write(`| ${x.count.toFixed(2)} | ${x.bytes.toFixed(0)} | \`${x.name}\` |\n`);
}
