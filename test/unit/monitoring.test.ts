// deploy/monitoring/: every dashboard and alert query is valid PromQL (Prometheus' own grammar),
// and the name check the integration test applies to them (test/support/promql.ts) catches a
// wrong metric, label, label value or grouping label. The names themselves are checked against
// the services' /metrics in test/integration/metrics-dashboard.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { missingNames, parseExposition, queryNames } from '../support/promql.js';
import { dashboardQueries, ruleQueries } from '../support/monitoring.js';

describe('dashboard and alert rules', () => {
  it('every query parses', () => {
    const queries = [...dashboardQueries(), ...ruleQueries()];
    assert.equal(queries.length, 37);
    for (const { where, expr } of queries) assert.deepEqual(queryNames(expr).errors, [], `${where}: ${expr}`);
  });

  it('the alert rules cover the documented alerts, the dashboard the issue\'s panels', () => {
    assert.deepEqual(ruleQueries().map((q) => q.where.replace('alert ', '')), [
      'KubetrailProducerNoLeader', 'KubetrailProducerTwoLeaders', 'KubetrailProducerLeaderFlapping', 'KubetrailProducerWatchRestarts', 'KubetrailProducerRelists',
      'KubetrailProducerTransactionAborts', 'KubetrailProducerQueueFull', 'KubetrailProducerSlow',
      'KubetrailProcessorLagGrowing', 'KubetrailDeadLetters', 'KubetrailProcessorTransactionAborts', 'KubetrailProcessorUnassigned',
      'KubetrailSinkDeadLetters', 'KubetrailSinkReceiverDown',
    ]);
  });
});

describe('the name check', () => {
  const exposed = parseExposition(`# HELP x_total x
# TYPE x_total counter
x_total{processor="p",reason="bad"} 0
h_bucket{processor="p",le="+Inf"} 3
h_count{processor="p"} 3
`);

  it('reads selectors, matchers and grouping labels', () => {
    assert.deepEqual(queryNames('sum by (reason) (increase(x_total{processor="p", reason!~"a.*"}[5m]))'), {
      selectors: [{ metric: 'x_total', matchers: [{ label: 'processor', op: '=', value: 'p' }, { label: 'reason', op: '!~', value: 'a.*' }] }],
      grouping: ['reason'],
      errors: [],
    });
  });

  it('passes what exists, and names what does not', () => {
    assert.deepEqual(missingNames('sum by (processor, le, pod) (rate(h_bucket[5m]))', exposed), []);
    assert.deepEqual(missingNames('rate(y_total[5m])', exposed), ['no metric y_total']);
    assert.deepEqual(missingNames('x_total{service="a"}', exposed), []);
    assert.deepEqual(missingNames('x_total{outcome="a"}', exposed), ['x_total has no label outcome']);
    assert.deepEqual(missingNames('x_total{reason="worse"}', exposed), ["x_total{reason} never is 'worse'"]);
    assert.deepEqual(missingNames('sum by (output) (x_total)', exposed), ['no metric of the query has the label output']);
    assert.equal(missingNames('sum(x_total', exposed)[0]?.startsWith('does not parse'), true);
  });
});
