// The operator CLI against a real server: create, publish, tail sees the delivery, replay re-sends, --json parses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { runHookd } from '../helpers/process.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

let hookd: TestApp;
let receiver: Receiver;
let env: Record<string, string>;
beforeAll(async () => {
  hookd = await startTestApp();
  receiver = await startReceiver();
  env = { HOOKD_URL: hookd.url, HOOKD_ORGANIZATION: 'org_cli', HOOKD_EXTENSION: 'ext_cli', NO_COLOR: '1' };
});
afterAll(async () => {
  await hookd.close();
  await receiver.close();
});

const cli = async (...args: string[]) => {
  const r = await runHookd(args, env);
  return { ...r, json: () => JSON.parse(r.stdout) };
};

describe('hookd CLI', () => {
  it('creates, lists, pauses and resumes subscribers, publishes, tails, lists and retries deliveries, and replays', { timeout: 180_000 }, async () => {
    const created = await cli('subscribers', 'create', '--name', 'cli', '--webhook-url', receiver.url('/cli'), '--company', '1', '--event', 'company/product/*/v1', '--json');
    expect(created.code).toBe(0);
    const id = created.json().id as number;
    expect((await cli('subscribers', 'list', '--json')).json().items.map((s: { id: number }) => s.id)).toContain(id);
    expect((await cli('subscribers', 'get', String(id), '--json')).json().name).toBe('cli');
    expect((await cli('subscribers', 'pause', String(id))).stdout).toContain('inactive');
    expect((await cli('subscribers', 'resume', String(id))).stdout).toContain('active');
    expect((await cli('subscribers', 'list')).stdout).toMatch(/^id\s+name\s+status/);

    // tail follows new deliveries
    const tail = spawn(process.execPath, [fileURLToPath(new URL('../../bin/hookd.js', import.meta.url)), 'tail', '--json', '--interval', '200'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tailed = '';
    tail.stdout.on('data', (c) => (tailed += c));
    await new Promise((r) => setTimeout(r, 2500)); // let tail start and take its first look

    const dataFile = join(hookd.dir, 'payload.json');
    writeFileSync(dataFile, JSON.stringify({ id: 42, name: 'shoe' }));
    const published = await cli('publish', 'company/product/create/v1', '--company', '1', '--data', `@${dataFile}`, '--json');
    expect(published.code).toBe(0);
    const eventId = published.json().event_id as string;
    const [got] = await receiver.waitFor(1, '/cli');
    expect(got!.json.payload).toEqual({ id: 42, name: 'shoe' });

    const deadline = Date.now() + 10_000;
    while (!tailed.includes(eventId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    tail.kill();
    const lines = tailed.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((d) => d.event_id === eventId)).toBe(true);

    const list = (await cli('deliveries', 'list', '--json')).json();
    const deliveryId = list.items[0].id as number;
    const detail = (await cli('deliveries', 'get', String(deliveryId), '--json')).json();
    expect(detail.attempts[0].response_code).toBe(200);
    expect((await cli('deliveries', 'retry', String(deliveryId))).code).toBe(0);
    await receiver.waitFor(2, '/cli');

    const replay = await cli('replay', '--since', new Date(Date.now() - 60_000).toISOString(), '--subscriber', String(id), '--json');
    expect(replay.code).toBe(0);
    expect(replay.json()).toEqual({ queued: 1 });
    await receiver.waitFor(3, '/cli');
  });

  it('fails with a clear message and a non-zero exit', { timeout: 120_000 }, async () => {
    const missing = await cli('subscribers', 'get', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 NOT_FOUND: subscriber 999999 was not found');
    const notNumber = await cli('subscribers', 'get', 'abc');
    expect(notNumber.code).toBe(1);
    expect(notNumber.stderr).toContain('"abc" is not a positive integer');
    const noOrg = await runHookd(['deliveries', 'list'], { HOOKD_URL: hookd.url });
    expect(noOrg.code).not.toBe(0);
    expect(noOrg.stderr).toMatch(/--organization/);
    const down = await runHookd(['deliveries', 'list'], { ...env, HOOKD_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the server');
    const help = await runHookd(['publish', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--data <json>');
  });
});
