import { test } from 'node:test';
import { check } from '../helpers/check';

test('encryption format is required', () => {
  check(`<[[encryption]]/>`, [{ code: 'encryption-format-required', severity: 'error', message: 'XML error: unknown volume encryption format' }]);
  check(`<encryption format='[[]]'/>`, [{ code: 'encryption-format-required', severity: 'error', message: 'XML error: unknown volume encryption format' }]);
});

test('encryption format must be known in the configured libvirt version', () => {
  check(`<encryption format='[[LUKS]]'/>`, [{ code: 'encryption-format-unknown', severity: 'error', message: 'unsupported configuration: unknown volume encryption format type LUKS' }]);
  check(`<encryption format='[[luks-any]]'/>`, [{ code: 'encryption-format-unknown', severity: 'error', message: 'unsupported configuration: unknown volume encryption format type luks-any' }], { libvirtVersion: '9.0.0' });
  check(`<encryption format='luks-any'/>`, [], { libvirtVersion: '9.3.0' });
});
