// buildCached (stack/service.ts): the cache directories of the stack's downloads, the Node LTS
// binary and the benchmark's baseline tree are built aside and moved into place whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCached } from '../../stack/service.js';

const ready = (dir: string) => existsSync(join(dir, 'done'));

test('builds once into a staging directory of its own, then reuses the result', () => {
  const root = mkdtempSync(join(tmpdir(), 'build-cached-'));
  const dir = join(root, 'thing');
  const staged: string[] = [];
  const build = (staging: string) => {
    staged.push(staging);
    writeFileSync(join(staging, 'done'), 'ours');
  };
  assert.equal(buildCached(dir, ready, build), dir);
  assert.equal(buildCached(dir, ready, build), dir);
  assert.deepEqual(staged, [`${dir}.partial-${process.pid}`]);
  assert.equal(readFileSync(join(dir, 'done'), 'utf8'), 'ours');
  assert.deepEqual(readdirSync(root), ['thing']);
});

test('a failed build leaves neither the directory nor its staging behind', () => {
  const root = mkdtempSync(join(tmpdir(), 'build-cached-'));
  const dir = join(root, 'thing');
  assert.throws(() => buildCached(dir, ready, (staging) => {
    writeFileSync(join(staging, 'half'), '');
    throw new Error('download failed');
  }), /download failed/);
  assert.deepEqual(readdirSync(root), []);
});

test('when another process finished first, its directory is kept and ours dropped', () => {
  const root = mkdtempSync(join(tmpdir(), 'build-cached-'));
  const dir = join(root, 'thing');
  buildCached(dir, ready, (staging) => {
    // Another process completes `dir` while this one is still building.
    mkdirSync(dir);
    writeFileSync(join(dir, 'done'), 'theirs');
    writeFileSync(join(staging, 'done'), 'ours');
  });
  assert.equal(readFileSync(join(dir, 'done'), 'utf8'), 'theirs');
  assert.deepEqual(readdirSync(root), ['thing']);
});
