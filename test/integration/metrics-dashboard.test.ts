// The services' /metrics against Prometheus' conventions and against deploy/monitoring/: the
// producer, both processors and the notify sink run on the stack with one workflow played through them, each
// /metrics page is scraped, and every query of the Grafana dashboard and every alert of the
// PrometheusRule may name only metrics, labels and label values the pages hold (Prometheus'
// target labels aside). Conventions: Node's default metrics under their stock names, no `service`
// label, kubetrail_build_info, every counter of a known label value present at 0 before anything
// happened, one spelling of outcomes, kafka-exporter's label names on the lag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';
import { kafkaTestbed, quietLogger } from '../support/kit-helpers.js';
import { missingNames, parseExposition, type Exposed } from '../support/promql.js';
import { dashboardQueries, ruleQueries } from '../support/monitoring.js';
import { startProducer, type ProducerHandle } from '../../producer/service.js';
import { knownLabelValues } from '../../producer/metrics.js';
import { loadProcessor } from '../../lib/kit/discovery.js';
import { runProcessor, type ProcessorHandle } from '../../lib/kit/runner.js';
import { deadLetterReasons } from '../../lib/kit/dead-letter.js';
import { ArgoSimulator, scriptFromWorkflow } from '../../stack/argo-simulator.js';
import { runSink, type SinkHandle } from '../../lib/sink/runner.js';
import { createNotify } from '../../sinks/notify/notify.js';
import { startReceiver } from '../support/receiver.js';

const connection = testConnection();
const { admin, cleanups } = kafkaTestbed(connection);

async function scrape(port: number | undefined): Promise<string> {
  assert.ok(port, 'an HTTP port');
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

const series = (page: string, name: string) => page.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

test('every service\'s /metrics follows the conventions and holds every name the dashboard and the alerts use', { timeout: 240_000 }, async () => {
  const base = uniqueName('metrics');
  const namespace = base;
  const raw = `${base}.raw`;
  const stopping: Array<() => Promise<void>> = [];
  cleanups.push(async () => {
    const ours = (await admin.listTopics()).filter((t) => t.startsWith(base));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  });
  try {
    const producer: ProducerHandle = await startProducer(
      testProducerConfig(namespace, { flags: { topic: raw, stateTopic: `${base}.state`, stream: base, instanceId: `${base}-a`, httpPort: 0, cluster: 'metrics' } }),
      quietLogger(`${base}-producer`),
    );
    stopping.push(() => producer.stop());
    await producer.whenWatching(60_000);
    // Before anything happened: every known counter is there at 0.
    const idle = await scrape(producer.httpPort);
    assert.ok(series(idle, 'kubetrail_producer_transactions_total').some((l) => /outcome="aborted"\} 0$/.test(l)), series(idle, 'kubetrail_producer_transactions_total').join('\n'));
    for (const [, values] of Object.entries(knownLabelValues)) assert.ok(values.every((v) => idle.includes(`="${v}"} `)), `${values.join(',')} at 0`);

    const processors: ProcessorHandle[] = [];
    for (const name of ['completed-filter', 'workflow-summary']) {
      const definition = await loadProcessor(name);
      const outputs = Object.fromEntries(Object.keys(definition.outputs).map((o) => [o, `${base}.${name}.${o}`]));
      const handle = await runProcessor(definition, { connection, groupId: `${base}-${name}`, topics: { input: raw, outputs }, httpPort: 0, httpHost: '127.0.0.1', logger: quietLogger(`${base}-${name}`), handleSignals: false });
      stopping.push(() => handle.stop());
      processors.push(handle);
      const fresh = await scrape(handle.httpPort);
      for (const reason of deadLetterReasons) assert.match(fresh, new RegExp(`^kubetrail_processor_dead_letters_total\\{processor="${name}",reason="${reason}"\\} 0$`, 'm'));
      assert.match(fresh, new RegExp(`^kubetrail_processor_transactions_total\\{processor="${name}",outcome="aborted"\\} 0$`, 'm'));
    }

    // The notify sink on completed-filter's output, posting to a receiver that answers 200.
    const receiver = await startReceiver();
    stopping.push(() => receiver.close());
    const sink: SinkHandle = await runSink(createNotify({ format: 'json', webhookUrl: receiver.url, namespaces: [], labels: [], phases: ['Succeeded', 'Failed', 'Error'], timeoutMs: 2_000 }), {
      connection,
      groupId: `${base}-sink`,
      inputTopic: `${base}.completed-filter.completed`,
      httpPort: 0,
      httpHost: '127.0.0.1',
      logger: quietLogger(`${base}-sink`),
    });
    stopping.push(() => sink.stop());
    const idleSink = await scrape(sink.httpPort);
    for (const name of ['delivered', 'retries', 'filtered']) assert.match(idleSink, new RegExp(`^kubetrail_sink_${name}_total\\{sink="notify"\\} 0$`, 'm'));
    for (const reason of ['delivery-rejected', 'delivery-exhausted']) assert.match(idleSink, new RegExp(`^kubetrail_sink_failed_total\\{sink="notify",reason="${reason}"\\} 0$`, 'm'));

    // One workflow through the pipeline: histograms, lag and outputs get their series.
    const kc = new KubeConfig();
    kc.loadFromFile(process.env.KUBECONFIG as string);
    const fixture = JSON.parse(readFileSync(join('test', 'fixtures', 'argo-workflows', 'workflows', 'dag-diamond-82q7s-1e994e4481.json'), 'utf8')) as Record<string, unknown>;
    const script = scriptFromWorkflow(fixture, { namespace, name: uniqueName('diamond'), labels: { 'track-me': 'true' } });
    await new ArgoSimulator(kc).play(script);
    const records = 1 + script.steps.length;
    for (const handle of processors) while (handle.stats().recordsIn < records) await new Promise((resolve) => setTimeout(resolve, 50));
    // The workflow completes once: one completed record, delivered once.
    while (sink.stats().delivered < 1) await new Promise((resolve) => setTimeout(resolve, 50));

    const exposed: Exposed = new Map();
    for (const [what, port] of [['producer', producer.httpPort], ['completed-filter', processors[0]?.httpPort], ['workflow-summary', processors[1]?.httpPort], ['notify sink', sink.httpPort]] as const) {
      const page = await scrape(port);
      parseExposition(page, exposed);
      assert.doesNotMatch(page, /[{,]service="/, `${what}: no service label`);
      assert.doesNotMatch(page, /^kubetrail_(process|nodejs)_/m, `${what}: Node's default metrics unprefixed`);
      assert.match(page, /^process_cpu_seconds_total \d/m, `${what}: process_cpu_seconds_total`);
      assert.match(page, /^nodejs_heap_size_used_bytes \d/m, `${what}: nodejs_heap_size_used_bytes`);
      assert.match(page, new RegExp(`^kubetrail_build_info\\{version="[^"]+",nodejs_version="${process.versions.node}"\\} 1$`, 'm'), `${what}: build_info`);
      assert.doesNotMatch(page, /outcome="(commit|abort)"/, `${what}: outcomes spelled committed/aborted`);
    }
    assert.deepEqual([...(exposed.get('kubetrail_processor_consumer_lag')?.keys() ?? [])].sort(), ['consumergroup', 'partition', 'processor', 'topic']);
    assert.deepEqual([...(exposed.get('kubetrail_processor_consumer_lag')?.get('topic') ?? [])], [raw]);

    const problems = [...dashboardQueries(), ...ruleQueries()].flatMap(({ where, expr }) => missingNames(expr, exposed).map((p) => `${where}: ${p}`));
    assert.deepEqual(problems, []);
  } finally {
    for (const stop of stopping.reverse()) await stop().catch(() => undefined);
  }
});
