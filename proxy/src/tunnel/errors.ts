/**
 * The tunnel's typed errors. Usage errors (bad options, a non-loopback
 * listen without --allow-remote, an unreadable key file) exit 2 from the CLI;
 * every message names the option, never a key or token.
 */
export type TunnelErrorCode =
  | 'ERR_TUNNEL_LISTEN'
  | 'ERR_TUNNEL_REMOTE_LISTEN'
  | 'ERR_TUNNEL_SERVER_URL'
  | 'ERR_TUNNEL_PROTOCOL'
  | 'ERR_TUNNEL_SERVER_KEY'
  | 'ERR_TUNNEL_BIND_KEY';

export class TunnelError extends Error {
  constructor(
    readonly code: TunnelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TunnelError';
  }
}
