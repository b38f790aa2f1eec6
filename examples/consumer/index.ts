// A project that uses hookd as a package: subscribe a local receiver, publish an event, verify what arrives.
// Run against a server: HOOKD_URL=http://127.0.0.1:8080 node --import tsx index.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HookdApiError, HookdClient, type Subscriber } from 'hookd/client';
import { verifyFpSignature, verifyWebhook, WebhookVerificationError } from 'hookd/receiver';

const client = new HookdClient({
  url: process.env.HOOKD_URL ?? 'http://127.0.0.1:8080',
  apiKey: process.env.HOOKD_API_KEY,
  organizationId: process.env.HOOKD_ORGANIZATION ?? 'example-org',
  extensionId: process.env.HOOKD_EXTENSION ?? 'example-ext',
});

let secret = '';
const received = new Promise<{ event: { id: string }; payload: unknown }>((resolve) => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      try {
        const body = verifyWebhook<{ event: { id: string }; payload: unknown }>(raw, req.headers, secret, { toleranceSeconds: 300 });
        verifyFpSignature(raw, req.headers['x-fp-signature'] as string | undefined, secret);
        res.writeHead(204).end();
        server.close();
        resolve(body);
      } catch (err) {
        res.writeHead(err instanceof WebhookVerificationError ? 401 : 500).end();
      }
    });
  });
  server.listen(0, '127.0.0.1', async () => {
    const port = (server.address() as AddressInfo).port;
    const subscriber: Subscriber = await client.createSubscriber({
      name: 'example receiver',
      webhook_url: `http://127.0.0.1:${port}/hooks`,
      association: { company_id: 1 },
      events: [{ slug: 'company/product/create/v1' }],
    });
    secret = (await client.getSubscriberSecret(subscriber.id)).secret;
    const published = await client.publishEvent(1, { event_slug: 'company/product/create/v1', payload: { id: 42 } });
    console.log(JSON.stringify({ subscriber_id: subscriber.id, event_id: published.event_id }));
  });
});

try {
  await client.getSubscriber(999_999_999);
} catch (err) {
  if (!(err instanceof HookdApiError) || err.status !== 404) throw err;
}

const body = await received;
console.log(JSON.stringify({ verified: body.event.id, payload: body.payload }));
