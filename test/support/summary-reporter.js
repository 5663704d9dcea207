// Prints one plain closing line after everything jest prints, `jest: N passed, N failed, N skipped`, so that a
// reader (or CI) that looks only at the last line sees how many tests ran. Written at exit: jest's own summary
// reporter runs after custom reporters.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
