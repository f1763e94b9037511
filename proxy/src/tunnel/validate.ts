/**
 * LiveKit's `/rtc/validate` (and `/rtc/v1/validate`), which SDKs request
 * after a failed upgrade to learn why, answered here from the refusal the PQ
 * session carried sealed — as the browser shim does (shared/src/client/install.ts).
 * Never forwarded: the validate URL holds the token and the join request in
 * clear. Without a recorded refusal nothing is known: 502, as a proxy that
 * could not reach its upstream says.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateStatus } from '@volly/shared';
import type { FailureMemory } from './failures.js';
import type { TunnelMetrics } from './metrics.js';
import { readSdkRequest } from './request.js';

const NO_FAILURE = 'volly-pq tunnel: no PQ session failure is recorded for this token (the proxy may be unreachable)';

export function answerValidate(req: IncomingMessage, res: ServerResponse, failures: FailureMemory, metrics: TunnelMetrics): void {
  const failure = failures.recall(readSdkRequest(req).token);
  metrics.validate.inc({ result: failure ? 'failure' : 'none' });
  const status = failure ? validateStatus(failure) : 502;
  const body = failure ? failure.message : NO_FAILURE;
  // LiveKit's validate answers any origin; SDKs in a browser-like runtime read it cross-origin.
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
