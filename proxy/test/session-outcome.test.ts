/**
 * outcomeOf now reads shared's close-code table; the labels feed
 * volly_sessions_total{outcome} and alerts, so every code must map exactly
 * as the switch it replaced did (kept here, verbatim in meaning, as the oracle).
 */
import { describe, expect, test } from 'vitest';
import { type Outcome, outcomeOf } from '../src/session-record.js';

function before(code: number): Outcome {
  if (code === 1000 || code === 1005) return 'closed';
  if (code === 1001) return 'drained';
  if (code === 4401 || code === 4403 || code === 4429) return 'refused';
  if (code === 4400 || code === 1009) return 'malformed';
  if (code === 4408) return 'timeout';
  if (code === 4502) return 'upstream_error';
  // volly-pq.v2's refusals (unknown key, replay, stale clock); 4503 stays 'error'.
  if (code === 4421 || code === 4409 || code === 4425) return 'refused';
  return code >= 4000 && code < 4100 ? 'closed' : 'error';
}

describe('outcomeOf', () => {
  test('every code 0-5100 maps to the label it had before the close-code table', () => {
    for (let code = 0; code <= 5100; code++) expect(outcomeOf(code), String(code)).toBe(before(code));
  });
});
