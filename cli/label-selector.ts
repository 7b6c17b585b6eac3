// kubectl's label selectors (`-l`), equality- and set-based, with Kubernetes' meaning:
//   key  !key  key=value  key==value  key!=value  key in (a,b)  key notin (a,b)
// Requirements are separated by commas (not those inside parentheses) and all must hold; `!=`
// and `notin` also match objects without the key, as in Kubernetes. No npm library parses these
// (kubectl's parser is Go's k8s.io/apimachinery/pkg/labels), so this is a small one, checked
// against kubectl's documented examples in test/unit/label-selector.test.ts.

export type Requirement =
  | { key: string; op: 'exists' | 'not-exists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

export class SelectorError extends Error {
  override name = 'SelectorError';
}

// A label key: an optional DNS-subdomain prefix and a name (63 characters at most).
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw new SelectorError(`'${selector}': '${key}' is not a label key`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`'${selector}': '${value}' is not a label value`);
  return value;
}

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (depth < 0) throw new SelectorError(`'${selector}': unbalanced parentheses`);
    if (c === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (depth !== 0) throw new SelectorError(`'${selector}': unbalanced parentheses`);
  parts.push(current.trim());
  return parts;
}

function requirement(term: string, selector: string): Requirement {
  if (term === '') throw new SelectorError(`'${selector}': an empty requirement`);
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term);
  if (set) {
    const values = (set[3] as string).split(',').map((v) => checkValue(v.trim(), selector));
    return { key: checkKey(set[1] as string, selector), op: set[2] as 'in' | 'notin', values };
  }
  const equality = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (equality) {
    const value = checkValue(equality[3] as string, selector);
    return { key: checkKey(equality[1] as string, selector), op: equality[2] === '!=' ? 'notin' : 'in', values: [value] };
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), selector), op: 'not-exists' };
  return { key: checkKey(term, selector), op: 'exists' };
}

/** The requirements of one selector (every one must hold). */
export function parseSelector(selector: string): Requirement[] {
  if (selector.trim() === '') return [];
  return terms(selector).map((term) => requirement(term, selector));
}

export function matchesRequirement(labels: Record<string, string>, r: Requirement): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.op) {
    case 'exists':
      return has;
    case 'not-exists':
      return !has;
    case 'in':
      return has && r.values.includes(labels[r.key] as string);
    case 'notin':
      return !has || !r.values.includes(labels[r.key] as string);
  }
}

export function matchesSelector(labels: Record<string, string>, requirements: Requirement[]): boolean {
  return requirements.every((r) => matchesRequirement(labels, r));
}
