/** volly-pq.v2 (docs/PROTOCOL.md, "volly-pq.v2"): messages, key schedule, state machines, keys document, replay rules. */
export * from './client.js';
export * from './client-hello.js';
export * from './constants.js';
export * from './early.js';
export * from './errors.js';
export * from './placement.js';
export * from './replay.js';
export * from './schedule.js';
export * from './server.js';
export * from './server-hello.js';
export * from './server-session.js';
export * from './well-known.js';
