// node .ci/vitest-report.mjs <vitest JSON report> [--failures]: one line of counts for the stage the file is named
// after, with --failures one more line per failed test or file; exits 1 when anything failed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const say = (line) => process.stdout.write(`${line}\n`);

const [file, option] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
const stage = path.basename(file, '.json');
say(`${stage}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`);
if (option === '--failures') {
  const firstLine = (text) => (text || '').split('\n')[0];
  for (const result of report.testResults) {
    const failed = result.assertionResults.filter((test) => test.status === 'failed');
    if (failed.length === 0 && result.status === 'failed') say(`  FAILED ${result.name}: ${firstLine(result.message)}`);
    for (const test of failed) say(`  FAILED ${result.name} > ${test.fullName}: ${firstLine(test.failureMessages[0])}`);
  }
}
process.exit(report.numFailedTests > 0 || report.numFailedTestSuites > 0 ? 1 : 0);
