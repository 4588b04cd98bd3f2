// node:test reporter that prints only the plain closing line CI reads: "N passed, N failed".
// Skipped and todo tests are counted apart so that they never stand in for passes.
export default async function* summary(source) {
  let passed = 0, failed = 0, skipped = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (event.data.details?.type === 'suite') continue; // count tests, not describe() blocks
    // A todo test is a documented open item (its reason is printed by the spec reporter): it
    // neither passes nor fails, like a skip; node's own exit status ignores it too.
    if (event.data.skip || event.data.todo) skipped++;
    else if (event.type === 'test:fail') failed++;
    else passed++;
  }
  yield `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
}
