// A vitest reporter, beside the default one, that ends the run with every
// skipped test and why it was skipped (the note each gave `ctx.skip(note)`),
// so that a skip is never a bare count. A skip without a note is listed
// as such, to be given one.
import type { Reporter, TestModule } from 'vitest/node';

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) {
        const result = test.result();
        const note = result.state === 'skipped' ? result.note : undefined;
        lines.push(`  ${module.relativeModuleId} > ${test.fullName}\n      ${note ?? '(skipped without a reason)'}`);
      }
    }
    if (lines.length === 0) return;
    process.stdout.write(`\nSkipped (${lines.length}), and why:\n${lines.join('\n')}\n`);
  }
}
