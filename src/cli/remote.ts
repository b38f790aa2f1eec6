// The operator commands that talk to a running server through the typed client: subscribers, publish,
// deliveries, tail, replay. Connection options come from flags or HOOKD_URL / HOOKD_API_KEY /
// HOOKD_ORGANIZATION / HOOKD_EXTENSION (read by commander, the CLI's parser).
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HookdApiError, HookdClient, type Delivery, type DeliveryStatus } from '../client/index.ts';
import { colourStatus, printTable } from './output.ts';

interface Connection {
  url: string;
  key?: string;
  organization: string;
  extension: string;
  json?: boolean;
}

/** Adds the connection flags to a command. */
function remote(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'server URL').env('HOOKD_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--key <key>', 'API key (none in open development mode)').env('HOOKD_API_KEY'))
    .addOption(new Option('--organization <id>', 'organization id').env('HOOKD_ORGANIZATION').makeOptionMandatory())
    .addOption(new Option('--extension <id>', 'extension id').env('HOOKD_EXTENSION').makeOptionMandatory());
}

const clientFor = (c: Connection) => new HookdClient({ url: c.url, apiKey: c.key, organizationId: c.organization, extensionId: c.extension });

/** Runs an action; a failure prints one clear line and exits non-zero. */
function act<A extends unknown[]>(run: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      if (err instanceof HookdApiError) process.stderr.write(`hookd: ${err.status} ${err.code}: ${err.message}\n`);
      else if (err instanceof Error && /fetch failed|ECONNREFUSED/.test(`${err.message} ${String(err.cause)}`)) {
        process.stderr.write('hookd: cannot reach the server (is it running? see --url / HOOKD_URL)\n');
      } else process.stderr.write(`hookd: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  };
}

const print = (json: boolean | undefined, value: unknown, human: () => void) =>
  json ? process.stdout.write(`${JSON.stringify(value, null, 2)}\n`) : human();

const int = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return Number(value);
};

/** `@file.json` reads a file, `-` reads stdin, anything else is JSON text. */
function readJson(value: string): Record<string, unknown> {
  const text = value === '-' ? readFileSync(0, 'utf8') : value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`--data is not valid JSON (${value.startsWith('@') ? value.slice(1) : 'inline'})`);
  }
}

const deliveryRow = (d: Delivery) => [String(d.id), colourStatus(d.status), d.event_slug, String(d.subscriber_id), String(d.attempt), String(d.response_code ?? ''), d.created_on];
const DELIVERY_HEADER = ['id', 'status', 'event', 'subscriber', 'attempt', 'code', 'created'];

export function addRemoteCommands(program: Command): void {
  const subscribers = program.command('subscribers').description('list, read, create, pause and resume subscribers');

  remote(subscribers.command('list').description('list subscribers').option('--company <id>', 'only this company', int).option('--json', 'print JSON'))
    .action(act(async (o: Connection & { company?: number }) => {
      const page = await clientFor(o).listSubscribers({ page_size: 100, company_id: o.company });
      print(o.json, page, () => printTable(['id', 'name', 'status', 'company', 'url', 'events'], page.items.map((s) => [String(s.id), s.name, colourStatus(s.status), String(s.association.company_id), s.webhook_url, s.events.map((e) => e.slug).join(' ')])));
    }));

  remote(subscribers.command('get <id>').description('read one subscriber').option('--json', 'print JSON'))
    .action(act(async (id: string, o: Connection) => {
      const s = await clientFor(o).getSubscriber(int(id));
      print(o.json, s, () => process.stdout.write(`${JSON.stringify(s, null, 2)}\n`));
    }));

  remote(
    subscribers
      .command('create')
      .description('create a subscriber (prints its id and signing secret)')
      .requiredOption('--name <name>', 'a name')
      .requiredOption('--webhook-url <url>', 'where events go')
      .requiredOption('--company <id>', 'company id', int)
      .requiredOption('--event <slug...>', 'event slugs (a segment may be *)')
      .option('--json', 'print JSON'),
  ).action(act(async (o: Connection & { name: string; webhookUrl: string; company: number; event: string[] }) => {
    const s = await clientFor(o).createSubscriber({ name: o.name, webhook_url: o.webhookUrl, association: { company_id: o.company }, events: o.event.map((slug) => ({ slug })) });
    print(o.json, s, () => process.stdout.write(`subscriber ${s.id} created; signing secret: ${s.auth_meta.secret}\n`));
  }));

  for (const [name, status] of [['pause', 'inactive'], ['resume', 'active']] as const) {
    remote(subscribers.command(`${name} <id>`).description(name === 'pause' ? 'stop sending (new events wait as RESYNC)' : 'send again, re-queueing RESYNC deliveries'))
      .action(act(async (id: string, o: Connection) => {
        const r = await clientFor(o).setSubscriberStatus(int(id), status);
        process.stdout.write(`${r.message}\n`);
      }));
  }

  remote(
    program
      .command('publish <slug>')
      .description('publish an event')
      .requiredOption('--company <id>', 'company id', int)
      .requiredOption('--data <json>', 'the payload: JSON text, @file.json, or - for stdin')
      .option('--application <id>', 'application id')
      .option('--idempotency-key <key>', 'publish at most once per key (24 h)')
      .option('--json', 'print JSON'),
  ).action(act(async (slug: string, o: Connection & { company: number; data: string; application?: string; idempotencyKey?: string }) => {
    const r = await clientFor(o).publishEvent(o.company, { event_slug: slug, payload: readJson(o.data), application_id: o.application }, { idempotencyKey: o.idempotencyKey });
    print(o.json, r, () => process.stdout.write(`${r.duplicate ? 'duplicate of' : 'published'} ${r.event_id}: ${r.deliveries} deliveries\n`));
  }));

  const deliveries = program.command('deliveries').description('list, read and retry deliveries');
  remote(
    deliveries
      .command('list')
      .description('list deliveries, newest first')
      .option('--status <status>', 'PENDING, SUCCESS, FAILED, DISABLED, RESYNC or FILTER_ERROR')
      .option('--subscriber <id>', 'only this subscriber', int)
      .option('--event <slug>', 'only this event slug')
      .option('--limit <n>', 'how many (≤ 100)', int, 20)
      .option('--json', 'print JSON'),
  ).action(act(async (o: Connection & { status?: DeliveryStatus; subscriber?: number; event?: string; limit: number }) => {
    const page = await clientFor(o).listDeliveries({ status: o.status, subscriber_id: o.subscriber, event_slug: o.event, page_size: o.limit });
    print(o.json, page, () => printTable(DELIVERY_HEADER, page.items.map(deliveryRow)));
  }));
  remote(deliveries.command('get <id>').description('one delivery with its attempt log').option('--json', 'print JSON'))
    .action(act(async (id: string, o: Connection) => {
      const d = await clientFor(o).getDelivery(int(id));
      print(o.json, d, () => {
        printTable(DELIVERY_HEADER, [deliveryRow(d)]);
        printTable(['attempt', 'at', 'code', 'ms', 'error'], d.attempts.map((a) => [String(a.attempt), a.attempted_on, String(a.response_code), a.response_time.toFixed(1), a.error ?? '']));
      });
    }));
  remote(deliveries.command('retry <id>').description('queue a delivery again now'))
    .action(act(async (id: string, o: Connection) => {
      process.stdout.write(`${(await clientFor(o).retryDelivery(int(id))).message}\n`);
    }));

  remote(program.command('tail').description('follow deliveries live (Ctrl-C to stop)').option('--interval <ms>', 'poll interval', int, 1000).option('--json', 'one JSON line per change'))
    .action(act(async (o: Connection & { interval: number }) => {
      const client = clientFor(o);
      const seen = new Map<number, string>();
      let first = true;
      for (;;) {
        const page = await client.listDeliveries({ page_size: 100 });
        for (const d of [...page.items].reverse()) {
          const key = `${d.status}/${d.attempt}`;
          if (seen.get(d.id) === key) continue;
          seen.set(d.id, key);
          if (first) continue; // start from now: show changes, not history
          if (o.json) process.stdout.write(`${JSON.stringify(d)}\n`);
          else process.stdout.write(`${d.created_on}  ${colourStatus(d.status).padEnd(21)} #${d.id} ${d.event_slug} → subscriber ${d.subscriber_id} (attempt ${d.attempt}${d.response_code !== null ? `, HTTP ${d.response_code}` : ''})\n`);
        }
        first = false;
        await new Promise((r) => setTimeout(r, o.interval));
      }
    }));

  remote(
    program
      .command('replay')
      .description('send again every delivery created since a date, with a progress bar')
      .requiredOption('--since <date>', 'ISO date-time, e.g. 2026-11-01T00:00:00Z')
      .option('--subscriber <id>', 'only this subscriber', int)
      .option('--json', 'print JSON'),
  ).action(act(async (o: Connection & { since: string; subscriber?: number }) => {
    if (Number.isNaN(Date.parse(o.since))) throw new Error(`--since "${o.since}" is not a date-time`);
    const client = clientFor(o);
    const range = { start_date: new Date(o.since).toISOString(), end_date: new Date().toISOString() };
    const { queued } = await client.retryDeliveries({ ...range, subscriber_ids: o.subscriber ? [o.subscriber] : undefined, status: ['SUCCESS', 'FAILED', 'DISABLED'] });
    const waiting = async () => {
      let n = 0;
      for (const status of ['PENDING', 'FAILED'] as const) {
        n += (await client.listDeliveries({ ...range, subscriber_id: o.subscriber, status, page_size: 1 })).page.item_total;
      }
      return n;
    };
    let left = queued;
    while (left > 0) {
      left = Math.min(left, await waiting());
      if (!o.json) process.stderr.write(`\r${progressBar(queued - left, queued)}`);
      if (left > 0) await new Promise((r) => setTimeout(r, 500));
    }
    if (!o.json && queued > 0) process.stderr.write('\n');
    print(o.json, { queued }, () => process.stdout.write(`replayed ${queued} deliveries\n`));
  }));
}

function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
