/**
 * @volly/shared for browsers: pure-JS ML-KEM / X-Wing / ML-DSA-65 (noble) and
 * ChaCha20-Poly1305 (noble ciphers). Bundled with esbuild for pages.
 */
import { aeadBackends, getAead, getKem, getSigner, kemBackends, randomBytes, sigBackends } from './backend/browser.js';
import { createInstaller } from './client/install.js';
import { bindE2ee } from './e2ee/index.js';

export * from './common.js';
export { aeadBackends, getAead, getKem, getSigner, kemBackends, randomBytes, sigBackends };

/** Makes livekit-client (via the global WebSocket) use volly-pq (v2 when the proxy has static keys, else v1) for signaling URLs. Returns an uninstall function. */
export const installPqWebSocket = createInstaller({ getKem: (a) => getKem(a), aead: getAead(), randomBytes, getSigner: (a) => getSigner(a) });
export * as v2 from './v2/index.js';

/** volly-e2ee.v1 (docs/E2EE.md): statements, key shares and the livekit-client adapter, on this runtime's backends. */
// Pure, so a bundle that uses only installPqWebSocket drops all of it.
export const e2ee = /* @__PURE__ */ bindE2ee({ getKem: (a) => getKem(a), getSigner: (a) => getSigner(a), aead: /* @__PURE__ */ getAead(), randomBytes });
export const signE2eeStatement: typeof e2ee.signE2eeStatement = (input) => e2ee.signE2eeStatement(input);
export const enablePqE2ee: typeof e2ee.enablePqE2ee = (room, opts) => e2ee.enablePqE2ee(room, opts);
export const makeE2eeKeys: typeof e2ee.makeParticipantKeys = (kemAlgorithm) => e2ee.makeParticipantKeys(kemAlgorithm);
export * as e2eeV1 from './e2ee/index.js';
