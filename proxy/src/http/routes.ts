/**
 * LiveKit v1.13.5's documented HTTP surface, the only requests the proxy
 * forwards (pkg/service/server.go, rtcservice.go, whipservice.go):
 *   GET /                         health ("OK", 406 "Not Ready")
 *   /rtc/validate, /rtc/v1/validate   the probe livekit-client sends after a failed join
 *   POST /twirp/livekit.<Service>/<Method>   RoomService, Egress, Ingress, SIP, AgentDispatchService
 *   GET|POST /whip/v1, GET|PATCH|DELETE /whip/v1/{participant_id}   WHIP (RFC 9725)
 * and OPTIONS on each (CORS preflights, WHIP's own OPTIONS), plus the proxy's
 * own GET /.well-known/volly-pq (v2's key document, answered here, never
 * forwarded). Everything else
 * is answered 404 by the proxy without contacting LiveKit. The patterns take
 * only plain characters, so the path LiveKit routes is the one checked here.
 */

export type Route = 'health' | 'validate' | 'twirp' | 'whip' | 'well-known';

const TABLE: readonly { readonly path: RegExp; readonly route: Route; readonly methods: readonly string[] }[] = [
  { path: /^\/$/, route: 'health', methods: ['GET', 'HEAD'] },
  { path: /^\/\.well-known\/volly-pq$/, route: 'well-known', methods: ['GET', 'HEAD'] },
  { path: /^\/rtc(\/v1)?\/validate$/, route: 'validate', methods: ['GET', 'HEAD'] },
  { path: /^\/twirp\/livekit\.[A-Za-z][A-Za-z0-9_]{0,63}\/[A-Za-z][A-Za-z0-9_]{0,63}$/, route: 'twirp', methods: ['POST'] },
  { path: /^\/whip\/v1$/, route: 'whip', methods: ['GET', 'POST'] },
  { path: /^\/whip\/v1\/[A-Za-z0-9_-]{1,128}$/, route: 'whip', methods: ['GET', 'PATCH', 'DELETE'] },
];

/** The route for this method and path, or undefined (answer 404). Repeated slashes count as one, as in LiveKit. */
export function routeOf(method: string | undefined, pathname: string): Route | undefined {
  const path = pathname.replace(/\/{2,}/g, '/');
  const hit = TABLE.find((r) => r.path.test(path));
  if (!hit || !method) return undefined;
  return method === 'OPTIONS' || hit.methods.includes(method) ? hit.route : undefined;
}

/** The path forwarded for a routed request: slashes collapsed the way LiveKit would. */
export const canonicalPath = (pathname: string): string => pathname.replace(/\/{2,}/g, '/');
