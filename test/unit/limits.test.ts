// Bounded validation (issue 16 §4): at most MAX_DIAGNOSTICS per document, with one note saying how
// many more; the hostile documents of the issue validate in bounded time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from '../../server/src/service/languageService';
import { MAX_DIAGNOSTICS } from '../../server/src/service/validation/context';

function validate(text: string) {
  const ls = getLanguageService({});
  ls.configure({ libvirtVersion: '9.0.0', poolType: 'dir' });
  const t0 = performance.now();
  const diagnostics = ls.doValidation(TextDocument.create('file:///limits.xml', 'xml', 1, text));
  return { diagnostics, ms: performance.now() - t0 };
}

test('diagnostics per document are capped, with one note that counts the rest', () => {
  // 5000 unknown attributes on <volume>: one problem each.
  const text = '<volume ' + Array.from({ length: 5000 }, (_, k) => `bogus${k}='1'`).join(' ')
    + "><name>a</name><capacity>1</capacity><target><format type='raw'/></target></volume>";
  const { diagnostics } = validate(text);
  assert.equal(diagnostics.length, MAX_DIAGNOSTICS);
  const last = diagnostics.at(-1)!;
  assert.equal(last.code, 'too-many-diagnostics');
  const message = typeof last.message === 'string' ? last.message : last.message.value;
  const more = Number(/^(\d+) more problems/.exec(message)?.[1]);
  assert.ok(more >= 5000 - MAX_DIAGNOSTICS, message);
  assert.equal(diagnostics.filter((d) => d.code === 'too-many-diagnostics').length, 1);
});

test('hostile documents validate in bounded time with a bounded number of diagnostics', () => {
  for (const [name, text] of Object.entries({
    '1 MB of <': '<volume>' + '<'.repeat(1 << 20) + '</volume>',
    '10 MB of <': '<volume>' + '<'.repeat(10 << 20),
    '18 MB of </bad>': '<volume>' + '</bad>'.repeat(3 << 20) + '</volume>',
    '50k attributes': '<volume ' + Array.from({ length: 50_000 }, (_, k) => `a${k}='${k}'`).join(' ') + '/>',
  })) {
    const { diagnostics, ms } = validate(text);
    assert.ok(ms < 8000, `${name}: ${ms.toFixed(0)} ms`);
    assert.ok(diagnostics.length > 0 && diagnostics.length <= MAX_DIAGNOSTICS, `${name}: ${diagnostics.length}`);
  }
});
