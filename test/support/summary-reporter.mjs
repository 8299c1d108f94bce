// A node:test reporter that writes only the run's totals as JSON ({passed, failed, skipped}), for
// test/run.ts's closing line. Suites are not counted: a test is a leaf, as in node's `# tests`.
// Plain JavaScript: node loads reporters before any --import loader such as tsx.
export default async function* summaryReporter(source) {
  const summary = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.data?.details?.type === 'suite') continue;
    if (event.type === 'test:pass') {
      if (event.data.skip || event.data.todo) summary.skipped += 1;
      else summary.passed += 1;
    } else if (event.type === 'test:fail') {
      summary.failed += 1;
    }
  }
  yield JSON.stringify(summary);
}
