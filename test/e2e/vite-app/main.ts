// A page as the package README tells an app to write it: make a key pair,
// send its public key to the app's token server, install the shim, connect
// with livekit-client. `?foreign=1` sends the public key of a key pair the
// page does not hold, to show what the app sees then.
import { getKem, installPqWebSocket, type PqWebSocket, toBase64Url } from '@volly/shared';
import { ConnectionError, Room } from 'livekit-client';

type Result =
  | { ok: true; room: string; identity: string; pq: PqWebSocket['pq'] | undefined }
  | { ok: false; name: string; message: string; reason?: number; status?: number; pq: PqWebSocket['pq'] | undefined };

const params = new URLSearchParams(location.search);
const status = document.getElementById('status') as HTMLElement;

async function join(): Promise<Result> {
  // The bound key pair lives only in this page; only its public key leaves.
  const keyPair = getKem('ML-KEM-768').keygen();
  const sent = params.has('foreign') ? getKem('ML-KEM-768').keygen().publicKey : keyPair.publicKey;
  let socket: PqWebSocket | undefined;
  installPqWebSocket({ keyPairs: [keyPair], onSocket: (ws) => (socket = ws) });

  const res = await fetch('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room: params.get('room'), identity: params.get('identity'), algorithm: 'ML-KEM-768', publicKey: toBase64Url(sent) }),
  });
  if (!res.ok) throw new Error(`token server: HTTP ${res.status}`);
  const token = await res.text();

  const room = new Room();
  try {
    await room.connect(params.get('url') as string, token);
    return { ok: true, room: room.name, identity: room.localParticipant.identity, pq: socket?.pq };
  } catch (err) {
    const e = err as Error & { reason?: number; status?: number };
    return {
      ok: false,
      name: err instanceof ConnectionError ? 'ConnectionError' : e.name,
      message: e.message,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e.status !== undefined ? { status: e.status } : {}),
      pq: socket?.pq,
    };
  }
}

const done = join().catch((err: Error): Result => ({ ok: false, name: err.name, message: err.message, pq: undefined }));
(window as unknown as { volly: Promise<Result> }).volly = done;
done.then((r) => {
  status.textContent = JSON.stringify(r);
});
