/** Everything of volly-pq.v1 that is the same on every runtime. */
export * from './aead/types.js';
export * from './bytes.js';
export * from './client/index.js';
export * from './close-codes.js';
export * from './close-reason.js';
export * from './errors.js';
export * from './frame.js';
export * from './handshake.js';
export * from './kem/types.js';
export * from './messages.js';
export * from './protocol.js';
export * from './schedule.js';
export * from './sig/server-auth.js';
export * from './sig/types.js';
export * from './token.js';
