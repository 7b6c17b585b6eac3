// The shape the engine issue asked for, checked on the code itself: no function in lib/ longer
// than 120 lines (a long function hides state and paths a test cannot reach); lib/ imports
// nothing from producer/, processors/, cli/, stack/ or bench/ (the layers run downwards); the
// kafkajs patches are installed in exactly one place, the client factory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_FUNCTION_LINES = 120;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const libFiles = tsFiles(join(root, 'lib'));

/** Functions, methods and arrow functions longer than `max` lines, as "file:line name (n lines)". */
export function longFunctions(path: string, text: string, max: number): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      const name = (node as ts.FunctionDeclaration).name?.getText(source) ?? ts.SyntaxKind[node.kind];
      if (lines > max) found.push(`${relative(root, path)}:${start + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Relative import specifiers of a file (static and dynamic). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
}

describe('code shape', () => {
  it(`no function in lib/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const long = libFiles.flatMap((file) => longFunctions(file, readFileSync(file, 'utf8'), MAX_FUNCTION_LINES));
    assert.deepEqual(long, []);
  });

  it('the length check finds a long function (it can fail)', () => {
    const body = Array.from({ length: 130 }, (_, i) => `  const x${i} = ${i};`).join('\n');
    assert.deepEqual(longFunctions(join(root, 'lib', 'example.ts'), `export function big() {\n${body}\n}\n`, MAX_FUNCTION_LINES), ['lib/example.ts:1 big (132 lines)']);
  });

  it('lib/ imports nothing from the layers above it', () => {
    const upward: string[] = [];
    for (const file of libFiles) {
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const target = relative(root, resolve(dirname(file), spec));
        if (/^(producer|processors|cli|stack|bench|test)\//.test(target)) upward.push(`${relative(root, file)} imports ${target}`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('the kafkajs patches are installed in one place, and every kafkajs client is made there', () => {
    const installs: string[] = [];
    const direct: string[] = [];
    for (const file of [...libFiles, ...tsFiles(join(root, 'producer')), ...tsFiles(join(root, 'cli')), ...tsFiles(join(root, 'processors'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?<!function )\b(installReadCommittedFix|installConcurrentTransactionsRetry|installCoordinatorCache|installNegativeTimeoutFix|installTransactionPartitionCoalescing|installGzipCodec|installBrokerConnectFix)\(\)/g)) installs.push(`${relative(root, file)} ${m[1]}`);
      if (/new Kafka\(/.test(text)) direct.push(relative(root, file));
    }
    assert.deepEqual(installs.sort(), [
      'lib/kafka/client.ts installBrokerConnectFix',
      'lib/kafka/client.ts installConcurrentTransactionsRetry',
      'lib/kafka/client.ts installCoordinatorCache',
      'lib/kafka/client.ts installGzipCodec',
      'lib/kafka/client.ts installNegativeTimeoutFix',
      'lib/kafka/client.ts installReadCommittedFix',
      'lib/kafka/client.ts installTransactionPartitionCoalescing',
    ]);
    assert.deepEqual(direct, ['lib/kafka/client.ts']);
  });
});
