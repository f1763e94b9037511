export { Authorizer, type Grant } from './authorize.js';
export { ConfigError, type Config, loadConfig, parseKeys } from './config.js';
export { createLogger } from './log.js';
export { type RunningProxy, startProxy } from './server.js';
