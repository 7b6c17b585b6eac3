// `kubetrail demo`: the whole pipeline, end to end. Starts the embedded local stack (or uses the
// configured cluster and Kafka with --external), runs the producer and both processors, and
// drives real Argo workflows through the API server — created, running with nodes progressing,
// then succeeded or failed as Argo's controller writes them — while the summary topic is shown
// live and the notify sink posts each finished workflow, in Slack format, to a local receiver
// that prints it. Ctrl-C stops everything it started.
import type { Command } from 'commander';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { KubeConfig } from '@kubernetes/client-node';
import { sleep } from '../lib/async.js';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { loadProducerConfig } from '../producer/config.js';
import { startProducer, type ProducerHandle } from '../producer/service.js';
import { loadProcessor } from '../lib/kit/discovery.js';
import { runProcessor, type ProcessorHandle } from '../lib/kit/runner.js';
import { connectionSchema } from '../lib/config.js';
import { loadLocalStack, localStackSettings } from './connection.js';
import { subscribeTopic, WorkflowView, summaryHeader, summaryRow } from './subscribe.js';
import { startDemoNotifications } from './demo-notify.js';

/** Real Argo objects (test/fixtures/argo-workflows/SOURCES.md): successes and failures with exit codes. */
export const demoWorkflows = [
  'dag-diamond-82q7s-1e994e4481.json',
  'dag-disable-fail-fast-r6xdc-094b58f2e9.json',
  'steps-4k5vn-63f8e96bb4.json',
  'retry-workflow-with-failed-exit-handler-8c2e1bfa68.json',
  'many-items-z26lj-73c42a8e83.json',
  'exit-handlers-n7s4n-f47e234887.json',
  'workflow-template-hello-world-k4d26-109a7c2bbc.json',
  'fail-two-nested-dag-suspend-5c72755234.json',
];

const finalPhases = new Set(['Succeeded', 'Failed', 'Error']);

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on the embedded local stack and drive real Argo workflows through it, showing the summary topic live')
    .option('--external', 'use KAFKA_BROKERS, SCHEMA_REGISTRY_URL and KUBECONFIG instead of starting the embedded stack')
    .option('--namespace <name>', 'namespace the demo workflows are created in', 'kubetrail-demo')
    .option('--pace <ms>', 'pause between two writes of one workflow', (v) => Number(v), 400)
    .option('--exit-when-done', 'stop once every workflow has reached its final state (for scripts); the embedded stack stays up')
    .action(async (options: { external?: boolean; namespace: string; pace: number; exitWhenDone?: boolean }) => {
      // stack/ (the embedded stack and the Argo simulator) is a development tool, not in the
      // image: loaded here, when the demo runs, never when the command is registered.
      const { LocalStack } = await loadLocalStack();
      const { ArgoSimulator, scriptFromWorkflow } = await import('../stack/argo-simulator.js');
      const stack = new LocalStack();
      const say = (line: string) => process.stderr.write(`[demo] ${line}\n`);
      let startedStack = false;
      let env: Record<string, string | undefined>;
      if (options.external) {
        env = process.env;
      } else {
        startedStack = !(await stack.isUp());
        say(startedStack ? 'starting the embedded stack (the first run downloads and builds: minutes)…' : 'using the running embedded stack');
        env = { ...(await stack.up()) };
      }
      const connection = connectionSchema.parse({ kafkaBrokers: env.KAFKA_BROKERS, schemaRegistryUrl: env.SCHEMA_REGISTRY_URL, kafkaClientId: 'kubetrail-demo' });
      const kubeconfigFile = env.KUBECONFIG ?? localStackSettings().KUBECONFIG;
      if (!kubeconfigFile) throw new Error('no KUBECONFIG: set it, or run without --external');

      // Services log JSON to a file so the live view keeps the terminal.
      mkdirSync(join(stack.root, '.kubetrail'), { recursive: true });
      const logFile = join(stack.root, '.kubetrail', 'demo.log');
      const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false }));
      say(`service logs: ${logFile}`);

      let producer: ProducerHandle | undefined;
      const processors: ProcessorHandle[] = [];
      let subscription: { stop: () => Promise<void> } | undefined;
      let notifications: Awaited<ReturnType<typeof startDemoNotifications>> | undefined;
      let stopping: Promise<void> | undefined;
      // The stack it started is stopped with the rest on Ctrl-C or a failure; a demo that ran to
      // its end (--exit-when-done) leaves it running, so the README's next commands (subscribe,
      // dlq) have the topics it filled to read.
      const stopAll = (keepStack = false) =>
        (stopping ??= (async () => {
          say('stopping…');
          await subscription?.stop().catch(() => undefined);
          await notifications?.stop().catch(() => undefined);
          await Promise.all(processors.map((p) => p.stop().catch(() => undefined)));
          await producer?.stop().catch(() => undefined);
          if (startedStack && keepStack) say('the embedded stack it started keeps running for the next commands (`npm run stack -- down` stops it)');
          else if (startedStack) {
            say('stopping the embedded stack it started');
            await stack.down();
          }
          say('stopped');
        })());
      process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
      process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

      try {
        const producerConfig = loadProducerConfig({
          env: {},
          file: {
            kafkaBrokers: connection.kafkaBrokers.join(','),
            schemaRegistryUrl: connection.schemaRegistryUrl,
            kubeconfig: kubeconfigFile,
            namespaces: options.namespace,
            cluster: 'demo',
            httpPort: -1,
          },
        });
        producer = await startProducer(producerConfig, logger.child({ service: 'producer' }));
        await producer.whenWatching(60_000);
        say(`producer watching ${options.namespace}/workflows (track-me=true) → ${producerConfig.topic}`);
        for (const name of ['completed-filter', 'workflow-summary']) {
          const definition = await loadProcessor(name);
          processors.push(await runProcessor(definition, { connection, logger: logger.child({ service: name }), handleSignals: false }));
          say(`processor ${name} running (exactly-once)`);
        }
        notifications = await startDemoNotifications(connection, options.namespace, logger.child({ service: 'sink-notify' }), say);

        const kafka = createKafka(connection, logger, 'kubetrail-demo-view');
        const registry = createRegistry(connection);
        const view = new WorkflowView(process.stdout, 'kubetrail demo — kubetrail.workflows.summary, live (Ctrl-C stops)');
        const finished = new Set<string>();
        const demoKeys = new Set<string>();
        let allDone: () => void = () => {};
        const done = new Promise<void>((resolve) => (allDone = resolve));
        subscription = await subscribeTopic(kafka, registry, 'kubetrail.workflows.summary', { from: { kind: 'end' } }, (key, value) => {
          if (value.namespace !== options.namespace) return;
          view.update(key, value);
          if (demoKeys.has(key) && finalPhases.has(String(value.phase))) finished.add(key);
          if (demoKeys.size > 0 && finished.size === demoKeys.size) allDone();
        });

        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfigFile);
        const simulator = new ArgoSimulator(kc);
        const run = Date.now().toString(36).slice(-4);
        const fixtures = join(stack.root, 'test', 'fixtures', 'argo-workflows', 'workflows');
        const scripts = demoWorkflows.map((file) => {
          const fixture = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as Record<string, unknown>;
          const base = String((fixture.metadata as { name?: string }).name ?? 'wf').replace(/-[a-z0-9]{5}$/, '');
          const name = `${base}-${run}`.slice(0, 63);
          demoKeys.add(`${options.namespace}/${name}`);
          return scriptFromWorkflow(fixture, { namespace: options.namespace, name, labels: { 'track-me': 'true' } });
        });
        // Staggered, concurrent lives: like a cluster, several workflows run at once.
        await Promise.all(
          scripts.map(async (script, i) => {
            await sleep(i * options.pace * 2);
            await simulator.play(script, { stepDelayMs: options.pace });
          }),
        );
        if (options.exitWhenDone) {
          await Promise.race([done, sleep(60_000)]);
          await subscription.stop();
          subscription = undefined;
          process.stdout.write(`\n${summaryHeader}\n${view.latest().map(summaryRow).join('\n')}\n`);
          const missing = [...demoKeys].filter((k) => !finished.has(k));
          if (missing.length) throw new Error(`no final summary for ${missing.join(', ')} within 60s`);
          say(`all ${demoKeys.size} workflows reached their final state in the summary topic`);
          for (let waited = 0; notifications.received() < demoKeys.size && waited < 30_000; waited += 100) await sleep(100);
          say(`${notifications.received()} Slack notifications received for ${demoKeys.size} workflows`);
          await stopAll(true);
        } else {
          say('all workflows played; the view stays live (create more with kubectl against the stack). Ctrl-C stops.');
          await new Promise(() => {});
        }
      } catch (error) {
        await stopAll();
        throw error;
      }
    });
}
