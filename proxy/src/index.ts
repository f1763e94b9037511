export { Authorizer, type Grant } from './authorize.js';
export { type Config, ConfigError, loadConfig, parseKeys } from './config.js';
export { createLogger } from './log.js';
export { type RunningProxy, startProxy } from './server.js';
