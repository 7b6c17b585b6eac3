// The kubetrail command as a user runs it (package.json's bin, a child process), with no services:
// the version, exit code 2 for every kind of usage error, and the shell completion it prints.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { packageBin } from '../support/deploy.js';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const run = (...args: string[]) => spawnSync(process.execPath, [packageBin, ...args], { encoding: 'utf8', env: { ...process.env, KAFKA_BROKERS: '', SCHEMA_REGISTRY_URL: '' } });

describe('kubetrail usage', () => {
  it('--version prints the package version', () => {
    const result = run('--version');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `${version}\n`);
  });

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['an unknown command', ['nope'], /unknown command 'nope'/],
    ['an unknown option', ['subscribe', 'kubetrail.raw', '--nope'], /unknown option '--nope'/],
    ['a missing argument', ['subscribe'], /missing required argument 'topic'/],
    ['a value outside the choices', ['process', 'workflow-summary', '--delivery', 'twice'], /Allowed choices are exactly-once, at-least-once/],
    ['an invalid number', ['replay', 'workflow-summary', '--max-batch-records', '0'], /a whole number of 1 or more/],
    ['a fetch size under the smallest taken', ['replay', 'workflow-summary', '--max-bytes-per-fetch', '65535'], /--max-bytes-per-fetch <bytes>' argument '65535' is invalid\. a whole number from 65536 to 2147483647/],
    ['a fetch size over what a Fetch request carries', ['replay', 'workflow-summary', '--max-bytes-per-partition', '2147483648'], /a whole number from 65536 to 2147483647/],
    ['a setting that fails validation', ['topics', 'init', '--kafka-brokers', 'no-port', '--schema-registry-url', 'http://127.0.0.1:1'], /kafkaBrokers: each broker must be host:port/],
    ['an unknown processor', ['process', 'no-such-processor', '--kafka-brokers', '127.0.0.1:1', '--schema-registry-url', 'http://127.0.0.1:1'], /no-such-processor/],
    ['no command', [], /Usage: kubetrail/],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`exits 2 for ${what}`, () => {
      const result = run(...args);
      assert.equal(result.status, 2, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '', 'nothing on stdout');
    });
  }

  it('help shows each setting\'s environment variable, default and choices', () => {
    const result = run('process', '--help');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--delivery <value> +\(choices: "exactly-once", "at-least-once", default: exactly-once, env: KUBETRAIL_DELIVERY\)/);
    assert.match(result.stdout, /--max-batch-records <value> +\(default: 500, env: KUBETRAIL_MAX_BATCH_RECORDS\)/);
  });
});

describe('kubetrail completion', () => {
  /** What bash completes for a command line (the last word being completed), with the printed script loaded. */
  function complete(shell: 'bash' | 'zsh', words: string[]): string[] {
    const script = run('completion', shell).stdout;
    const line = words.map((w) => `'${w}'`).join(' ');
    const probe = `${shell === 'bash' ? script : script.replace(/^autoload.*$/gm, '').replace(/^#compdef.*$/m, '')}
COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _kubetrail_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['-c', probe], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  }

  it('bash completes commands, subcommands, flags, choices and processor names', () => {
    assert.deepEqual(complete('bash', ['kubetrail', 'pro']), ['process', 'produce']);
    assert.deepEqual(complete('bash', ['kubetrail', 'topics', '']), ['init']);
    assert.ok(complete('bash', ['kubetrail', 'subscribe', '--fr']).includes('--from'));
    assert.deepEqual(complete('bash', ['kubetrail', 'process', '--delivery', '']), ['at-least-once', 'exactly-once']);
    assert.deepEqual(complete('bash', ['kubetrail', 'process', 'work']), ['workflow-summary']);
  });

  it('zsh gets the same completions (through bashcompinit)', () => {
    const script = run('completion', 'zsh');
    assert.equal(script.status, 0, script.stderr);
    assert.match(script.stdout, /^#compdef kubetrail\n/);
    assert.match(script.stdout, /bashcompinit/);
    assert.deepEqual(complete('zsh', ['kubetrail', 'pro']), ['process', 'produce']);
  });
});
