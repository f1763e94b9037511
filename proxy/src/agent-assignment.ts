/**
 * LiveKit's agent worker stream (`/agent`, docs/PROTOCOL.md "Agent workers"):
 * the one message in it that needs the proxy is the job assignment.
 *
 * LiveKit signs a job's room token (ServerMessage `assignment`, field 3:
 * JobAssignment{job, url, token}) with the key the worker registered with —
 * through the proxy that is the upstream key, which the proxy refuses from
 * clients and must never hand out. So each assignment is rewritten on its way
 * to the worker: the token re-signed with the client key the worker
 * authenticated with (same claims, the usual downgrade and pin rules of
 * Authorizer.clientFacing, at most JOB_TOKEN_MAX_LIFETIME_S), and any `url`
 * removed, so the worker joins the room through the URL it registered with
 * (this proxy or a tunnel in front of it) instead of a LiveKit address that
 * would take it around the proxy. Everything else in the stream passes as is.
 *
 * ServerMessage is a single oneof, so its first tag names the message: one
 * byte per frame decides, and only assignments are parsed.
 */
import { ServerMessage } from '@livekit/protocol';
import { CloseCode, isAgentPath, VollyError } from '@volly/shared';
import type { Authorizer, Grant } from './authorize.js';
import type { Metrics } from './metrics.js';
import { tokenRewriter } from './rewrite.js';

/** (3 << 3) | 2: ServerMessage.assignment, length-delimited. */
const TAG_ASSIGNMENT = 0x1a;

/**
 * The longest a re-signed job token lives: LiveKit's own (BuildAgentToken,
 * one hour), never more. A job is joined at once; a token that outlives that
 * is only more to leak.
 */
export const JOB_TOKEN_MAX_LIFETIME_S = 3600;

/** A job assignment the proxy cannot make safe (unparseable, or a token LiveKit's key does not verify): the session ends. */
export class JobAssignmentError extends VollyError {
  readonly code = 'ERR_JOB_ASSIGNMENT';
  override readonly closeCode = CloseCode.Internal;
}

type Message = Uint8Array | string;

/** True when a LiveKit → worker frame may be a job assignment (LiveKit answers a JSON worker in JSON). */
export function carriesAssignment(data: Message): boolean {
  if (typeof data === 'string') return data.includes('"assignment"');
  return data.length > 1 && data[0] === TAG_ASSIGNMENT;
}

function parse(data: Message): ServerMessage {
  try {
    return typeof data === 'string' ? ServerMessage.fromJsonString(data, { ignoreUnknownFields: true }) : ServerMessage.fromBinary(data);
  } catch {
    // It looked like an assignment and may carry an upstream-signed token: never pass it on unread.
    throw new JobAssignmentError('unreadable job assignment from LiveKit');
  }
}

/**
 * The frame with its job assignment made client-facing, or the same frame
 * when it is another message. Throws JobAssignmentError rather than forward
 * a token signed with the upstream key.
 */
export async function rewriteAssignment(data: Message, grant: Grant, auth: Authorizer): Promise<{ data: Message; rewritten: boolean }> {
  const msg = parse(data);
  if (msg.message.case !== 'assignment') return { data, rewritten: false };
  const a = msg.message.value;
  if (a.token) {
    const token = await auth.clientFacing(a.token, grant, JOB_TOKEN_MAX_LIFETIME_S);
    if (!token) throw new JobAssignmentError('job token from LiveKit does not verify with the upstream key');
    a.token = token;
  }
  // No LiveKit address reaches the worker: it joins through the URL it registered with.
  a.url = undefined;
  return { data: typeof data === 'string' ? msg.toJsonString() : msg.toBinary(), rewritten: true };
}

/** The relay's `rewrite` transform for an agent worker session: job assignments rewritten and counted. */
export function assignmentRewriter(grant: Grant, auth: Authorizer, metrics: Metrics): (m: Message) => Promise<Message> | null {
  return (m) =>
    carriesAssignment(m)
      ? rewriteAssignment(m, grant, auth).then((r) => {
          if (r.rewritten) metrics.tokenRewrites.inc({ kind: 'job_assignment' });
          return r.data;
        })
      : null;
}

/** The rewrite a session's path needs: job assignments on `/agent`, refreshed and room-move tokens on signaling. */
export function sessionRewriter(path: string, grant: Grant, auth: Authorizer, metrics: Metrics): (m: Message) => Promise<Message> | null {
  return isAgentPath(path) ? assignmentRewriter(grant, auth, metrics) : tokenRewriter(grant, auth, metrics);
}
