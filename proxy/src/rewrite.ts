/**
 * Finds the two LiveKit messages that carry tokens — SignalResponse
 * `refresh_token` (field 16) and `room_moved` (field 24, token in field 2) —
 * and swaps LiveKit's upstream-signed token for a client-facing one.
 *
 * SignalResponse is a single oneof, so its first tag names the message: the
 * relay checks two bytes per frame and parses only these rare messages.
 */
import { SignalResponse } from '@livekit/protocol';
import type { Authorizer, Grant } from './authorize.js';
import type { Metrics } from './metrics.js';

const TAG_REFRESH = 0x82; // (16 << 3) | 2, varint continues
const TAG_ROOM_MOVED = 0xc2; // (24 << 3) | 2, varint continues

export function carriesToken(data: Uint8Array | string): boolean {
  if (typeof data === 'string') return data.includes('"refreshToken"') || data.includes('"roomMoved"');
  return data.length > 2 && data[1] === 0x01 && (data[0] === TAG_REFRESH || data[0] === TAG_ROOM_MOVED);
}

export type RewriteKind = 'refresh_token' | 'room_moved';

/** Returns the message with its token rewritten, or the original when it carries none or LiveKit's token does not verify. */
export async function rewriteToken(data: Uint8Array | string, grant: Grant, auth: Authorizer): Promise<{ data: Uint8Array | string; kind?: RewriteKind }> {
  let msg: SignalResponse;
  try {
    msg = typeof data === 'string' ? SignalResponse.fromJsonString(data, { ignoreUnknownFields: true }) : SignalResponse.fromBinary(data);
  } catch {
    return { data };
  }
  const m = msg.message;
  let kind: RewriteKind;
  if (m.case === 'refreshToken') {
    const t = await auth.clientFacing(m.value, grant);
    if (!t) return { data };
    m.value = t;
    kind = 'refresh_token';
  } else if (m.case === 'roomMoved' && m.value.token) {
    const t = await auth.clientFacing(m.value.token, grant);
    if (!t) return { data };
    m.value.token = t;
    kind = 'room_moved';
  } else {
    return { data };
  }
  return { data: typeof data === 'string' ? msg.toJsonString() : msg.toBinary(), kind };
}

/** The relay's `rewrite` transform for a session: swaps tokens in the rare messages that carry one, counting each. */
export function tokenRewriter(grant: Grant, auth: Authorizer, metrics: Metrics): (m: Uint8Array | string) => Promise<Uint8Array | string> | null {
  return (m) =>
    carriesToken(m)
      ? rewriteToken(m, grant, auth).then((r) => {
          if (r.kind) metrics.tokenRewrites.inc({ kind: r.kind });
          return r.data;
        })
      : null;
}
