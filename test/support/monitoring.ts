// The queries of the Grafana dashboard and the PrometheusRule in deploy/monitoring/, read once.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { repoPath } from './deploy.js';

export interface NamedQuery {
  where: string;
  expr: string;
}

export function dashboardQueries(): NamedQuery[] {
  const dashboard = JSON.parse(readFileSync(repoPath('deploy/monitoring/grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string; refId: string }> }> };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `dashboard panel '${p.title}' ${t.refId}`, expr: t.expr })));
}

export function ruleQueries(): NamedQuery[] {
  const rule = parseYaml(readFileSync(repoPath('deploy/monitoring/prometheus-rule.yaml'), 'utf8')) as { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } };
  return rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}
