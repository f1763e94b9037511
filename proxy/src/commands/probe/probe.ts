/**
 * One probe: picks the protocol (v1, v2, or auto as the browser shim does),
 * for v2 the proxy's static key (from --server-key, else its well-known
 * document, only a pinned one when the token pins keys), runs the session
 * and reports it. The v2 handshake itself proves that the proxy holds the
 * chosen key; v1 pins (--server-key ML-DSA-65 files or the token's
 * video.pqServerKeys) make the proxy's handshake signature mandatory.
 */
import {
  equalBytes,
  getAead,
  getKem,
  KEM_ALGORITHMS,
  type KemAlgorithm,
  type KemKeyPair,
  peekTokenPayload,
  readServerKemKeyPins,
  readServerKeyClaims,
  type ServerKey,
  toHex,
  v2,
  wellKnownUrlFor,
} from '@volly/shared';
import { type Handshake, v1Handshake, v2Handshake } from './handshake.js';
import type { ProbeMode, ProbeReport } from './report.js';
import { runSession } from './run.js';
import { DocumentError, fetchWellKnown, type ServerKeys } from './server-keys.js';
import { probeSignalUrl, shownUrl } from './url.js';

export type ProtocolChoice = 'v1' | 'v2' | 'auto';

export interface ProbeOptions {
  /** The proxy, ws(s):// or http(s)://; `/rtc` is appended unless the path is a signaling path. */
  readonly url: string;
  readonly token: string;
  readonly mode: ProbeMode;
  /** v1: the KEM (default ML-KEM-768); v2: only a static key of this algorithm. Token-bound: the bound key's. */
  readonly algorithm?: KemAlgorithm;
  /** Token-bound: the key pair the token is bound to. */
  readonly bound?: { readonly algorithm: KemAlgorithm; readonly keyPair: KemKeyPair };
  /** Default auto: v2 when --server-key names v2 keys, the token pins v2 keys or the proxy serves its document. */
  readonly protocol?: ProtocolChoice;
  /** --server-key files: v2 static keys to use instead of the document, v1 signature pins. */
  readonly serverKeys?: ServerKeys;
  /** The document's URL (default `<proxy origin>/.well-known/volly-pq`). */
  readonly wellKnown?: string;
  readonly timeoutMs: number;
}

/** How long `auto` waits for the document before speaking v1. */
const DOCUMENT_TIMEOUT_MS = 3000;

type Plan =
  | { readonly type: 'v1'; readonly pins: readonly ServerKey[]; readonly pinsFrom: 'option' | 'token'; readonly fallback?: string }
  | { readonly type: 'v2'; readonly key: v2.ServerStaticKey; readonly from: 'option' | 'document'; readonly pinned: boolean }
  | { readonly type: 'failed'; readonly message: string; readonly protocol: 'v1' | 'v2' };

/** The protocol and server key, decided before anything is dialed (a bad token pin fails closed here). */
async function plan(o: ProbeOptions, signalUrl: string): Promise<Plan> {
  const choice = o.protocol ?? 'auto';
  const payload = peekTokenPayload(o.token) ?? {};
  let kemPins: Uint8Array[] | null;
  let sigPins: ServerKey[] | null;
  try {
    kemPins = readServerKemKeyPins(payload);
    sigPins = readServerKeyClaims(payload);
  } catch (err) {
    return { type: 'failed', message: (err as Error).message, protocol: choice === 'v1' ? 'v1' : 'v2' };
  }
  const optionKem = o.serverKeys?.kem ?? [];
  const optionSig = o.serverKeys?.sig ?? [];
  const v1 = (fallback?: string): Plan => ({
    type: 'v1',
    pins: optionSig.length ? optionSig : (sigPins ?? []),
    pinsFrom: optionSig.length ? 'option' : 'token',
    ...(fallback ? { fallback } : {}),
  });
  if (choice === 'v1') return v1();
  const v2Required = choice === 'v2' || optionKem.length > 0 || kemPins !== null;
  // As the shim: v1 signature pins are stronger than a document nothing vouches for.
  if (!v2Required && (optionSig.length || sigPins)) return v1();

  let keys = optionKem;
  const from = optionKem.length ? 'option' : 'document';
  if (!keys.length) {
    const url = o.wellKnown ?? wellKnownUrlFor(signalUrl);
    try {
      keys = await fetchWellKnown(url, Math.min(o.timeoutMs, DOCUMENT_TIMEOUT_MS));
    } catch (err) {
      if (!(err instanceof DocumentError)) throw err;
      if (!v2Required) return v1(`no v2 document: ${err.message}`);
      return { type: 'failed', message: `no v2 server key: ${err.message}`, protocol: 'v2' };
    }
  }
  const usable = kemPins ? keys.filter((k) => kemPins.some((id) => equalBytes(id, k.id))) : keys;
  const key = v2.currentKey(usable, Math.floor(Date.now() / 1000), o.algorithm ? [o.algorithm] : KEM_ALGORITHMS);
  if (!key) {
    const what = [kemPins ? 'pinned by the token' : '', o.algorithm ? `of ${o.algorithm}` : ''].filter(Boolean).join(' and ');
    return {
      type: 'failed',
      message: `no current v2 server key${what ? ` ${what}` : ''} in the ${from === 'option' ? '--server-key files' : 'document'}`,
      protocol: 'v2',
    };
  }
  return { type: 'v2', key, from, pinned: kemPins !== null };
}

/** Runs one probe session. Never rejects: every failure is in the report. */
export async function probe(o: ProbeOptions): Promise<ProbeReport> {
  const started = performance.now();
  const signalUrl = probeSignalUrl(o.url, o.token).href;
  const p = await plan(o, signalUrl);
  const algorithm: KemAlgorithm = p.type === 'v2' ? p.key.algorithm : (o.bound?.algorithm ?? o.algorithm ?? 'ML-KEM-768');
  const report: ProbeReport = {
    ok: false,
    url: shownUrl(signalUrl),
    protocol: p.type === 'failed' ? p.protocol : p.type,
    mode: o.mode,
    algorithm,
    backends: { kem: getKem(algorithm).backend, aead: getAead().backend },
  };
  if (p.type === 'failed') {
    report.failure = { stage: 'connect', message: p.message };
    return report;
  }
  let hs: Handshake;
  if (p.type === 'v2') {
    report.serverKey = { id: toHex(p.key.id), algorithm: p.key.algorithm, from: p.from, pinned: p.pinned };
    hs = v2Handshake({ signalUrl, serverKey: p.key, ...(o.mode === 'token-bound' && o.bound ? { bound: o.bound } : {}) });
  } else {
    if (p.fallback) report.fallback = p.fallback;
    const keyPair = o.mode === 'token-bound' ? o.bound?.keyPair : undefined;
    hs = v1Handshake({ signalUrl, mode: o.mode, kem: getKem(algorithm), ...(keyPair ? { keyPair } : {}), pins: p.pins });
  }
  return runSession(hs, report, o.timeoutMs, started, ({ signer }) => {
    // v1 with pins: the key whose signature over the transcript verified.
    if (p.type === 'v1' && signer) report.serverKey = { id: toHex(signer.keyId), algorithm: signer.algorithm, from: p.pinsFrom, pinned: true };
  });
}
