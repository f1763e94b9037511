// Which upgrade paths the proxy serves: LiveKit's signaling paths and its
// agent worker path, exactly as LiveKit's own router matches them.

import { isAgentPath, isSignalPath, isUpgradePath } from '@volly/shared';
import { describe, expect, it } from 'vitest';

describe('isAgentPath / isUpgradePath', () => {
  it('takes /agent, with a deployment prefix, and nothing near it', () => {
    for (const p of ['/agent', '/livekit/agent']) expect(isAgentPath(p)).toBe(true);
    for (const p of ['/agent/', '/agents', '/agent/x', '/xagent', '/rtc']) expect(isAgentPath(p)).toBe(false);
  });

  it('serves signaling and the agent path, never validate or other paths', () => {
    for (const p of ['/rtc', '/rtc/v1', '/agent', '/prefix/rtc/v1']) expect(isUpgradePath(p)).toBe(true);
    for (const p of ['/rtc/validate', '/rtc/v1/validate', '/twirp/livekit.AgentDispatchService/CreateDispatch', '/']) expect(isUpgradePath(p)).toBe(false);
    // The browser shim keeps matching signaling only: a page never registers workers.
    expect(isSignalPath('/agent')).toBe(false);
  });
});
