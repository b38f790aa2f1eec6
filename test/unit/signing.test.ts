import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signFp } from '../../src/signing/fp-signature.ts';
import { signingKey, signStandard, webhookSignatureHeader } from '../../src/signing/standard-webhooks.ts';

// The Standard Webhooks specification's test vector (API.md § What a subscriber receives).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('signingKey', () => {
  it('decodes the base64 part of a whsec_ secret', () => {
    expect(signingKey(VECTOR.secret)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    expect(signingKey(VECTOR.secret)).toHaveLength(24);
  });

  it.each(['my-plain-secret', 's3cr3t-ü', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'WHSEC_abc'])(
    'uses the UTF-8 bytes of a secret without the whsec_ prefix (%j)',
    (secret) => {
      expect(signingKey(secret)).toEqual(Buffer.from(secret, 'utf8'));
    },
  );
});

describe('signStandard', () => {
  it('reproduces the Standard Webhooks specification test vector', () => {
    expect(signStandard(signingKey(VECTOR.secret), VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('agrees with the standardwebhooks library on the test vector', () => {
    const theirs = new Webhook(VECTOR.secret).sign(VECTOR.id, new Date(VECTOR.timestamp * 1000), VECTOR.body);
    expect(theirs).toBe(VECTOR.signature);
  });

  it('signs with the UTF-8 bytes of a non-whsec secret', () => {
    // Expected value computed once, independently (Python hmac), for "<id>.<timestamp>.<body>".
    expect(signStandard(signingKey('my-plain-secret'), VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(
      'v1,sqKXg6gNbP39QJmsoynKnSelkxCcKgDEFZc/SKcnR0c=',
    );
  });

  it.each([
    ['id', { ...VECTOR, id: 'msg_other' }],
    ['timestamp', { ...VECTOR, timestamp: VECTOR.timestamp + 1 }],
    ['body', { ...VECTOR, body: '{"test": 2432232315}' }],
    ['secret', { ...VECTOR, secret: 'whsec_AAAAr8GKYqrTwjUPD8ILPZIo2LaLaSw' }],
  ])('changes when the %s changes', (_what, v) => {
    expect(signStandard(signingKey(v.secret), v.id, v.timestamp, v.body)).not.toBe(VECTOR.signature);
  });
});

describe('webhookSignatureHeader', () => {
  const oldKey = signingKey(VECTOR.secret);
  const newKey = signingKey('whsec_' + Buffer.alloc(32, 7).toString('base64'));

  it('holds one v1 signature for a single key', () => {
    expect(webhookSignatureHeader([oldKey], VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('joins one signature per key with a single space, in key order', () => {
    const header = webhookSignatureHeader([newKey, oldKey], VECTOR.id, VECTOR.timestamp, VECTOR.body);
    expect(header.split(' ')).toEqual([
      signStandard(newKey, VECTOR.id, VECTOR.timestamp, VECTOR.body),
      VECTOR.signature,
    ]);
    expect(header).toMatch(/^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('is accepted by the standardwebhooks verifier for a whsec_ secret', () => {
    const secret = 'whsec_' + Buffer.alloc(32, 42).toString('base64');
    const body = JSON.stringify({ event: { id: 'evt_1' }, payload: { a: 'é' } });
    const timestamp = nowSeconds();
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': webhookSignatureHeader([signingKey(secret)], 'evt_1', timestamp, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('is accepted by the standardwebhooks verifier for a non-whsec secret given as raw bytes', () => {
    const secret = 'plain-secret-ü';
    const body = '{"hello":"world"}';
    const timestamp = nowSeconds();
    const headers = {
      'webhook-id': 'evt_2',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': webhookSignatureHeader([signingKey(secret)], 'evt_2', timestamp, body),
    };
    const verifier = new Webhook(new TextEncoder().encode(secret), { format: 'raw' });
    expect(verifier.verify(body, headers)).toEqual({ hello: 'world' });
  });

  it('verifies with either secret while two keys sign (rotation)', () => {
    const oldSecret = VECTOR.secret;
    const newSecret = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
    const body = '{"x":1}';
    const timestamp = nowSeconds();
    const headers = {
      'webhook-id': 'evt_3',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': webhookSignatureHeader([signingKey(newSecret), signingKey(oldSecret)], 'evt_3', timestamp, body),
    };
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ x: 1 });
    expect(new Webhook(newSecret).verify(body, headers)).toEqual({ x: 1 });
  });

  it('is rejected by the standardwebhooks verifier when the body was altered', () => {
    const secret = 'whsec_' + Buffer.alloc(32, 42).toString('base64');
    const timestamp = nowSeconds();
    const headers = {
      'webhook-id': 'evt_4',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': webhookSignatureHeader([signingKey(secret)], 'evt_4', timestamp, '{"amount":1}'),
    };
    expect(() => new Webhook(secret).verify('{"amount":100}', headers)).toThrow(/No matching signature/);
  });
});

describe('signFp (x-fp-signature)', () => {
  it.each([
    // secret, body, expected hex computed once, independently (Python hmac / hashlib)
    [VECTOR.secret, VECTOR.body, '80ec8a89ce3cd22133a1066caecb4d04fea7467657c8514d717ec42c38a5c94c'],
    ['s3cr3t-ü', '{"a":"é"}', 'c2aa577beabf1265cc2141f2db74f2d37fb75d6bdfdaaff0ac663843e70e6747'],
  ])('is the hex HMAC-SHA256 of the body keyed with the secret as UTF-8 (%j)', (secret, body, expected) => {
    expect(signFp(secret, body)).toBe(expected);
  });

  it('signs a body given as its UTF-8 bytes exactly as the text (both signatures)', () => {
    const body = '{"a":"é 東京 🍮"}';
    const bytes = new TextEncoder().encode(body);
    expect(signFp(VECTOR.secret, bytes)).toBe(signFp(VECTOR.secret, body));
    expect(signStandard(signingKey(VECTOR.secret), 'evt_1', 1_700_000_000, bytes)).toBe(signStandard(signingKey(VECTOR.secret), 'evt_1', 1_700_000_000, body));
  });

  it('keys with the whole secret string, not the decoded whsec_ bytes', () => {
    const body = '{"k":"v"}';
    expect(signFp(VECTOR.secret, body)).toBe(createHmac('sha256', Buffer.from(VECTOR.secret, 'utf8')).update(body).digest('hex'));
    expect(signFp(VECTOR.secret, body)).not.toBe(createHmac('sha256', signingKey(VECTOR.secret)).update(body).digest('hex'));
  });

  it('is 64 lower-case hex characters', () => {
    expect(signFp('x', '')).toMatch(/^[0-9a-f]{64}$/);
  });
});
