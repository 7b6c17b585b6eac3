// docs/schemas.md is rendered from the schemas' doc strings: it must match the committed schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderSchemaDocs } from '../../schemas/docs.js';

test('docs/schemas.md is up to date with schemas/*.avsc (npm run schemas:docs)', () => {
  const committed = readFileSync(new URL('../../docs/schemas.md', import.meta.url), 'utf8');
  assert.equal(committed, renderSchemaDocs());
});

test('every field of the raw event is documented', () => {
  assert.doesNotMatch(renderSchemaDocs(), /\| `\w+` \| [^|]+ \|  \|/);
});
