// A precise clock on the first-message deadline. The attacker child runs at
// nice 19 on a busy machine, so its own timestamps lag by up to a second;
// this probe runs in the test process (normal priority) from an address of
// its own and times one half-open PQ upgrade from its 101 to the proxy's
// close frame.

import { frameHeader, openUpgrade, setLocalAddress } from './raw-upgrade.ts';

export interface ProbeResult {
  status: number;
  closeCode?: number;
  /** From the 101 to the close frame. */
  afterMs?: number;
}

/** One upgrade from `localAddress` that sends nothing (or, `dribble`, a frame header then a byte every 500 ms). */
export async function deadlineProbe(port: number, localAddress: string, dribble: boolean): Promise<ProbeResult> {
  setLocalAddress(localAddress);
  const { status, sock, half } = await openUpgrade(port, true, true, dribble);
  if (!half) return { status };
  let timer: ReturnType<typeof setInterval> | undefined;
  if (dribble) {
    sock.write(frameHeader());
    timer = setInterval(() => sock.destroyed || sock.write(Buffer.of(0x41)), 500);
  }
  if (!sock.destroyed) await new Promise((r) => sock.once('close', r));
  clearInterval(timer);
  return {
    status,
    ...(half.closeCode !== undefined ? { closeCode: half.closeCode } : {}),
    ...(half.closedAt !== undefined ? { afterMs: Math.round(half.closedAt - half.openedAt) } : {}),
  };
}
