// stageCacheEntry (stack/service.ts): every cache entry (Kafka's jars, Apicurio, the Node LTS
// binary, the benchmark's baseline tree) is built aside and moved into place whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isComplete, stageCacheEntry } from '../../stack/service.js';

const ready = (dir: string) => existsSync(join(dir, 'done'));

test('builds into a staging directory of its own, moves it into place complete, and leaves nothing else', async () => {
  const root = mkdtempSync(join(tmpdir(), 'stage-cache-'));
  const dir = join(root, 'thing');
  const staged: string[] = [];
  await stageCacheEntry(dir, ready, async (staging) => {
    staged.push(staging);
    writeFileSync(join(staging, 'done'), 'ours');
    return 'ours, built';
  });
  assert.equal(staged.length, 1);
  assert.ok(staged[0]!.startsWith(`${dir}.staging-${process.pid}-`), staged[0]);
  assert.equal(readFileSync(join(dir, 'done'), 'utf8'), 'ours');
  assert.ok(isComplete(dir), 'the marker is written last, with the summary');
  assert.deepEqual(readdirSync(root), ['thing']);
});

test('a failed build leaves neither the entry nor its staging behind', async () => {
  const root = mkdtempSync(join(tmpdir(), 'stage-cache-'));
  const dir = join(root, 'thing');
  await assert.rejects(
    stageCacheEntry(dir, ready, async (staging) => {
      writeFileSync(join(staging, 'half'), '');
      throw new Error('download failed');
    }),
    /download failed/,
  );
  assert.deepEqual(readdirSync(root), []);
});

test('when another process finished first, its entry is kept and ours dropped', async () => {
  const root = mkdtempSync(join(tmpdir(), 'stage-cache-'));
  const dir = join(root, 'thing');
  await stageCacheEntry(dir, ready, async (staging) => {
    // Another process completes `dir` while this one is still building.
    mkdirSync(dir);
    writeFileSync(join(dir, 'done'), 'theirs');
    writeFileSync(join(staging, 'done'), 'ours');
    return 'ours';
  });
  assert.equal(readFileSync(join(dir, 'done'), 'utf8'), 'theirs');
  assert.deepEqual(readdirSync(root), ['thing']);
});

test('a half-built entry of an older run is replaced', async () => {
  const root = mkdtempSync(join(tmpdir(), 'stage-cache-'));
  const dir = join(root, 'thing');
  mkdirSync(dir);
  writeFileSync(join(dir, 'half'), '');
  await stageCacheEntry(dir, ready, async (staging) => {
    writeFileSync(join(staging, 'done'), 'ours');
    return 'ours';
  });
  assert.deepEqual(readdirSync(dir).sort(), ['.complete', 'done']);
  assert.deepEqual(readdirSync(root), ['thing']);
});
