// `kubetrail stack …`: the embedded local stack (Kafka, Apicurio Registry, Kubernetes API server).
// stack/ is a development tool, not in the image: it is loaded only when one of these commands
// runs (loadLocalStack), never when they are registered.
import type { Command } from 'commander';
import type { ServiceName } from '../stack/service.js';
import { loadLocalStack } from './connection.js';

/** The stack's services, for the help text; the stack's state file decides at run time. */
const serviceHelp = 'kafka (kafka-1 … kafka-N on a cluster) | registry | kubeapi';

async function newStack(brokers?: number) {
  const { LocalStack } = await loadLocalStack();
  return new LocalStack({ brokers });
}

async function serviceArg(stack: { serviceNames(): Promise<ServiceName[]> }, value: string): Promise<ServiceName> {
  const known = await stack.serviceNames();
  if (!(known as string[]).includes(value)) throw new Error(`unknown service '${value}' (this stack has ${known.join(', ')})`);
  return value as ServiceName;
}

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description('run the embedded local stack on 127.0.0.1 without Docker: Kafka (KRaft), Apicurio Registry, a Kubernetes API server');

  stack
    .command('up')
    .description('start every service that is not running (downloads and builds once, cached in ~/.cache/kubetrail)')
    .option(
      '--brokers <n>',
      'Kafka nodes of a new stack (combined KRaft broker+controller each; 3 gives replication 3, min ISR 2); an existing stack keeps its size (env KUBETRAIL_STACK_BROKERS, default 1)',
      (value) => Number(value),
    )
    .action(async (options: { brokers?: number }) => {
      const local = await newStack(options.brokers);
      const began = Date.now();
      const connection = await local.up();
      process.stderr.write(`[stack] up in ${((Date.now() - began) / 1000).toFixed(1)}s; settings written to ${local.connectionFile}\n`);
      for (const [key, value] of Object.entries(connection)) process.stdout.write(`${key}=${value}\n`);
    });

  stack
    .command('down')
    .description('stop every service (their data is kept until `stack reset`)')
    .action(async () => {
      await (await newStack()).down();
      process.stderr.write('[stack] down\n');
    });

  stack
    .command('status')
    .description('show each service: pid, running, answering; exit 1 unless all are ready')
    .action(async () => {
      const statuses = await (await newStack()).status();
      for (const s of statuses) {
        process.stdout.write(`${s.name.padEnd(9)} ${s.ready ? 'ready  ' : s.paused ? 'paused ' : s.running ? 'running' : 'stopped'} pid=${s.pid ?? '-'} log=${s.log}\n`);
      }
      if (!statuses.every((s) => s.ready)) process.exitCode = 1;
    });

  stack
    .command('env')
    .description('print the connection settings as KEY=value lines (eval-able: `export $(kubetrail stack env)`)')
    .action(async () => {
      for (const [key, value] of Object.entries(await (await newStack()).connection())) process.stdout.write(`${key}=${value}\n`);
    });

  for (const [name, description] of [
    ['start', 'start one service'],
    ['stop', 'stop one service gracefully (SIGTERM), keeping its data'],
    ['kill', 'kill one service with SIGKILL, keeping its data (fault testing)'],
    ['restart', 'stop and start one service, keeping its data'],
    ['pause', 'stall one service with SIGSTOP: it keeps its sockets but answers nothing (fault testing)'],
    ['resume', 'continue a paused service (SIGCONT)'],
  ] as const) {
    stack
      .command(`${name} <service>`)
      .description(`${description}: ${serviceHelp}`)
      .action(async (service: string) => {
        const local = await newStack();
        const which = await serviceArg(local, service);
        await local[name](which);
      });
  }

  stack
    .command('compact')
    .description('compact etcd to its current revision (watches from older resourceVersions get 410 Gone) and defragment it (its file gives the space back)')
    .action(async () => {
      const { compactEtcd, defragmentEtcd } = await import('../stack/kubeapi.js');
      const context = await (await newStack()).context();
      const revision = await compactEtcd(context);
      await defragmentEtcd(context);
      process.stdout.write(`compacted etcd at revision ${revision} and defragmented it\n`);
    });

  stack
    .command('reset')
    .description('stop everything and delete the stack data (topics, schemas, objects); downloads stay cached')
    .action(async () => {
      await (await newStack()).reset();
    });
}
