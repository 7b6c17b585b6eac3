// The demo's notifications: the notify sink in Slack format posting to a receiver on 127.0.0.1
// that prints each message it gets (the header and the failed steps), as a Slack channel would
// show them. Shows a sink at work next to the live view, and ends with the demo.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.js';
import type { ConnectionConfig } from '../lib/config.js';
import { sleep } from '../lib/async.js';
import { runSink } from '../lib/sink/runner.js';
import { createNotify } from '../sinks/notify/notify.js';

interface SlackBlock {
  type: string;
  text?: { text: string };
}

/** One line per Slack message: its header, then its sections' first lines after the title. */
function slackLine(body: string): string {
  const message = JSON.parse(body) as { blocks: SlackBlock[] };
  const header = message.blocks.find((b) => b.type === 'header')?.text?.text ?? '';
  const details = message.blocks.filter((b) => b.type === 'section' && b.text).map((b) => b.text!.text.split('\n').slice(1).join('; '));
  return [header, ...details].join(' — ');
}

export async function startDemoNotifications(connection: ConnectionConfig, namespace: string, logger: Logger, say: (line: string) => void) {
  let received = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received++;
      say(`Slack message received (Idempotency-Key ${String(req.headers['idempotency-key']).slice(0, 12)}…): ${slackLine(body)}`);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/demo`;
  const sink = await runSink(createNotify({ format: 'slack', webhookUrl: url, namespaces: [namespace], labels: [], phases: ['Succeeded', 'Failed', 'Error'], argoUiUrl: 'http://localhost:2746/workflows/{namespace}/{name}', timeoutMs: 5_000 }), {
    connection,
    logger,
    groupId: 'sink-notify-demo',
    fromBeginning: false,
  });
  while (!sink.ready()) await sleep(100);
  say('sink notify running (Slack format) → a local receiver that prints each message');
  return {
    received: () => received,
    stop: async () => {
      await sink.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
