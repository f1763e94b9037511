// The agent test/clients/agents.test.ts runs: the agents SDK's job process
// imports this file, and for each job it joins the room and answers every
// data message on topic "ping" with "pong:<message>" to its sender.
// Type annotations only (Node runs it with type stripping).

import { defineAgent, type JobContext } from '@livekit/agents';
import { type RemoteParticipant, RoomEvent } from '@livekit/rtc-node';

export default defineAgent({
  entry: async (ctx: JobContext) => {
    await ctx.connect();
    ctx.room.on(RoomEvent.DataReceived, (payload: Uint8Array, participant?: RemoteParticipant, _kind?: unknown, topic?: string) => {
      if (topic !== 'ping' || !participant) return;
      const answer = new TextEncoder().encode(`pong:${new TextDecoder().decode(payload)}`);
      void ctx.room.localParticipant?.publishData(answer, { reliable: true, topic: 'pong', destination_identities: [participant.identity] });
    });
  },
});
