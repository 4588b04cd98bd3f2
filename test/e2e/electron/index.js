// extensionTestsPath for @vscode/test-electron: runs the inner suite with mocha in the extension host.
const path = require('path');

exports.run = function run() {
  const m = require('mocha');
  const Mocha = m.default || m;
  const mocha = new Mocha({ timeout: 60000, color: true });
  mocha.addFile(path.join(__dirname, '..', 'suite', 'extension.spec.js'));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
};
