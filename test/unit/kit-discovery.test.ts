// Processor discovery: a folder with an index is a processor; '_' and '.' folders, plain files
// and folders without an index are not; a bad export is named clearly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessorNotFoundError, listProcessors, loadProcessor } from '../../lib/kit/discovery.js';
import { resolveTopics } from '../../lib/topics.js';

let root: string;
const definition = (name: string) => `export default {
  name: '${name}', description: 'd',
  input: { topic: 'in', schema: { type: 'record', name: 'I', fields: [] } },
  outputs: { out: { topic: 'out', schema: { type: 'record', name: 'O', fields: [] } } },
  process() { return []; },
};\n`;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'kit-discovery-'));
  for (const [folder, file, content] of [
    ['beta', 'index.ts', definition('beta')],
    ['alpha', 'index.js', definition('alpha')],
    ['_template', 'index.ts', definition('template')],
    ['.hidden', 'index.ts', definition('hidden')],
    ['no-index', 'other.ts', definition('x')],
    ['broken', 'index.ts', 'export default { name: "broken" };\n'],
  ] as const) {
    mkdirSync(join(root, folder));
    writeFileSync(join(root, folder, file), content);
  }
  writeFileSync(join(root, 'README.md'), '# processors\n');
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('processor discovery', () => {
  it('lists folders with an index, skipping _ and . folders and files', () => {
    assert.deepEqual(listProcessors(root), ['alpha', 'beta', 'broken']);
  });

  it('loads a processor by folder name', async () => {
    const loaded = await loadProcessor('beta', root);
    assert.equal(loaded.name, 'beta');
    assert.equal(typeof loaded.process, 'function');
  });

  it('refuses the template, unknown names and paths', async () => {
    for (const name of ['_template', 'nope', '../beta', 'no-index']) {
      await assert.rejects(loadProcessor(name, root), (e: Error) => e instanceof ProcessorNotFoundError && e.message.includes('available: alpha, beta, broken'));
    }
  });

  it('names what is wrong with a bad export', async () => {
    await assert.rejects(loadProcessor('broken', root), /processors\/broken\/index\.ts does not export a valid processor definition: process must be a function; input must be/);
  });

  it('finds the repository processors from the real folder', () => {
    const names = listProcessors();
    assert.ok(names.includes('completed-filter'));
    assert.ok(!names.includes('_template'));
  });
});

describe('topic names', () => {
  it('derives changelog and dead-letter topics from the group, and applies overrides', async () => {
    const d = await loadProcessor('beta', root);
    const withState = { ...d, state: { store: 'seen', schema: { type: 'record', name: 'S', fields: [] } } };
    assert.deepEqual(resolveTopics(withState, 'g1'), { input: 'in', outputs: { out: 'out' }, changelog: 'g1-seen-changelog', deadLetter: 'g1.dlq' });
    assert.deepEqual(resolveTopics(d, 'g2', { input: 'i2', outputs: { out: 'o2' }, deadLetter: 'dead' }), { input: 'i2', outputs: { out: 'o2' }, changelog: undefined, deadLetter: 'dead' });
    assert.throws(() => resolveTopics(d, 'g', { outputs: { nope: 'x' } }), /declares no such output \(declared: out\)/);
  });
});
