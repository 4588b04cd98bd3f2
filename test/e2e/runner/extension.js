// Runs mocha in the extension host when the harness asks for it (E2E_SPEC/E2E_RESULT/E2E_MOCHA
// reach the extension host through code-server's environment). See test/e2e/harness.ts.
const fs = require('fs');

function activate() {
  const spec = process.env.E2E_SPEC, out = process.env.E2E_RESULT, mochaPath = process.env.E2E_MOCHA;
  if (!spec || !out || !mochaPath) return;
  const m = require(mochaPath);
  const Mocha = m.default || m;
  const mocha = new Mocha({ timeout: 60000, reporter: 'dot', color: false });
  mocha.addFile(spec);
  const tests = [];
  const t0 = Date.now();
  let runner;
  try {
    runner = mocha.run((failures) => fs.writeFileSync(out, JSON.stringify({ failures, tests, ms: Date.now() - t0 })));
  } catch (err) {
    fs.writeFileSync(out, JSON.stringify({ failures: 1, tests: [{ title: 'load', state: 'failed', error: String(err && err.stack || err) }] }));
    return;
  }
  runner.on('pass', (t) => tests.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
  runner.on('fail', (t, e) => tests.push({ title: t.fullTitle(), state: 'failed', error: String((e && e.stack) || e) }));
}

module.exports = { activate, deactivate() {} };
