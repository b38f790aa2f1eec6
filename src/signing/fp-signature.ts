// Fynd's x-fp-signature: hex HMAC-SHA256 of the body, keyed with the secret's UTF-8 bytes.
import { createHmac } from 'node:crypto';

export const signFp = (secret: string, body: string): string =>
  createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
