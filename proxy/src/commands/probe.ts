/** `volly-pq probe`: the command lives in ./probe/ (one file per concern); this is its entry point. */
export * from './probe/index.js';
