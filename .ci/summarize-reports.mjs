// Sum vitest JSON reports into "N passed, N failed".
//
//   node .ci/summarize-reports.mjs REPORT.json [REPORT.json ...]
//
// Prints per-report detail lines, then the summary as the LAST line. A test
// file that failed without any failed test (it crashed on import, or a
// beforeAll threw before tests were counted) counts as one failed test, so a
// broken file never hides behind "0 failed". Exit status: 0 when every report
// exists and nothing failed; 1 otherwise. Plain JavaScript, for Node 20 and 24.

import { existsSync, readFileSync } from 'node:fs';

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let ok = files.length > 0;

for (const file of files) {
  if (!existsSync(file)) {
    console.log(`report ${file}: MISSING`);
    ok = false;
    continue;
  }
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    console.log(`report ${file}: unreadable (${err.message})`);
    ok = false;
    continue;
  }
  const p = Number(report.numPassedTests ?? 0);
  let f = Number(report.numFailedTests ?? 0);
  const s = Number(report.numPendingTests ?? 0) + Number(report.numTodoTests ?? 0);
  const crashed = [];
  for (const suite of report.testResults ?? []) {
    const suiteFailed = (suite.assertionResults ?? []).some((a) => a.status === 'failed');
    if (suite.status === 'failed' && !suiteFailed) crashed.push(suite);
  }
  f += crashed.length;
  for (const suite of crashed) {
    const msg = String(suite.message ?? '').split('\n')[0];
    console.log(`  failed without a failed test: ${suite.name}${msg ? `: ${msg}` : ''}`);
  }
  if (report.numTotalTests === 0 && (report.testResults ?? []).length === 0) {
    console.log(`report ${file}: ran no test`);
  }
  console.log(`report ${file}: ${p} passed, ${f} failed, ${s} skipped (success=${report.success})`);
  passed += p;
  failed += f;
  skipped += s;
}

if (failed > 0) ok = false;
if (skipped > 0) console.log(`(${skipped} skipped)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
