// What a PromQL expression names (metrics, label matchers, grouping labels), read with the
// Prometheus project's own grammar (@prometheus-io/lezer-promql), and what a /metrics page exposes
// (metric names, their label names and values), for checking dashboards and alert rules against
// the services.
import { parser } from '@prometheus-io/lezer-promql';

export interface Selector {
  metric: string;
  /** Label matchers: name, operator, value. */
  matchers: Array<{ label: string; op: string; value: string }>;
}

export interface QueryNames {
  selectors: Selector[];
  /** Labels of by (...) / without (...) / on (...) / ignoring (...) clauses. */
  grouping: string[];
  /** Parse errors (lezer's error nodes), with where they are. */
  errors: string[];
}

export function queryNames(expr: string): QueryNames {
  const tree = parser.parse(expr);
  const result: QueryNames = { selectors: [], grouping: [], errors: [] };
  const text = (from: number, to: number) => expr.slice(from, to);
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) result.errors.push(`at ${cursor.from}: '${text(cursor.from, Math.max(cursor.to, cursor.from + 10))}'`);
    if (cursor.name === 'VectorSelector') {
      const node = cursor.node;
      const identifier = node.getChild('Identifier');
      const selector: Selector = { metric: identifier ? text(identifier.from, identifier.to) : '', matchers: [] };
      const matchers = node.getChild('LabelMatchers');
      for (let m = matchers?.firstChild; m; m = m.nextSibling) {
        const label = m.getChild('LabelName');
        const op = m.getChild('MatchOp');
        const value = m.getChild('StringLiteral');
        if (label && op && value) selector.matchers.push({ label: text(label.from, label.to), op: text(op.from, op.to), value: JSON.parse(text(value.from, value.to).replace(/^'|'$/g, '"')) as string });
      }
      result.selectors.push(selector);
    }
    if (cursor.name === 'GroupingLabels') {
      for (let l = cursor.node.firstChild; l; l = l.nextSibling) if (l.name === 'LabelName') result.grouping.push(text(l.from, l.to));
    }
  } while (cursor.next());
  return result;
}

/** Metric name → label name → the values seen, from Prometheus' text exposition format. */
export type Exposed = Map<string, Map<string, Set<string>>>;

export function parseExposition(page: string, into: Exposed = new Map()): Exposed {
  for (const line of page.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+(\s+\d+)?$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = into.get(match[1] as string) ?? new Map<string, Set<string>>();
    into.set(match[1] as string, labels);
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      const values = labels.get(pair[1] as string) ?? new Set<string>();
      values.add((pair[2] as string).replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c)));
      labels.set(pair[1] as string, values);
    }
  }
  return into;
}

/** Labels Prometheus adds from the scrape target (Prometheus Operator: namespace, pod, service…). */
export const targetLabels = new Set(['job', 'instance', 'namespace', 'pod', 'container', 'service', 'endpoint']);

/** What a query names that the exposed metrics do not have. */
export function missingNames(expr: string, exposed: Exposed): string[] {
  const names = queryNames(expr);
  const problems = names.errors.map((e) => `does not parse ${e}`);
  const labelsOfQuery = new Set<string>(targetLabels);
  for (const { metric, matchers } of names.selectors) {
    const labels = exposed.get(metric);
    if (!labels) {
      problems.push(`no metric ${metric}`);
      continue;
    }
    for (const name of labels.keys()) labelsOfQuery.add(name);
    for (const { label, op, value } of matchers) {
      if (!labels.has(label) && !targetLabels.has(label)) problems.push(`${metric} has no label ${label}`);
      else if ((op === '=' || op === '!=') && labels.has(label) && !labels.get(label)?.has(value)) problems.push(`${metric}{${label}} never is '${value}'`);
    }
  }
  for (const label of names.grouping) if (!labelsOfQuery.has(label)) problems.push(`no metric of the query has the label ${label}`);
  return problems;
}
