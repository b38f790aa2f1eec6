// Bearer-key authentication for tenant routes. With no key in the store the server is in open development
// mode: requests without a key are accepted from loopback only. Lookups are cached for at most a second, so
// keys created or revoked while the server runs take effect within a second.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseApiKey, secretMatches } from '../auth/api-keys.ts';
import { HookdError } from '../errors.ts';
import type { ApiKeyRecord, Store } from '../store/index.ts';

const CACHE_MS = 1000;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export class Authenticator {
  private activeKeys: { count: number; at: number } | null = null;
  private readonly keys = new Map<string, { record: ApiKeyRecord | null; at: number }>();

  constructor(private readonly store: Store) {}

  async openMode(): Promise<boolean> {
    const now = Date.now();
    if (!this.activeKeys || now - this.activeKeys.at > CACHE_MS) {
      this.activeKeys = { count: await this.store.countActiveApiKeys(), at: now };
    }
    return this.activeKeys.count === 0;
  }

  private async record(id: string): Promise<ApiKeyRecord | null> {
    const now = Date.now();
    const cached = this.keys.get(id);
    if (cached && now - cached.at <= CACHE_MS) return cached.record;
    const record = await this.store.findApiKey(id);
    if (this.keys.size > 10_000) this.keys.clear();
    this.keys.set(id, { record, at: now });
    return record;
  }

  /** Resolves when the request may act for `organizationId`; throws 401/403 otherwise. */
  async check(request: FastifyRequest, organizationId: string): Promise<void> {
    const header = request.headers.authorization;
    if (!header) {
      if ((await this.openMode()) && LOOPBACK.test(request.socket.remoteAddress ?? '')) return;
      throw new HookdError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>" (create one with: hookd keys create --organization <id>)');
    }
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const parsed = presented ? parseApiKey(presented) : null;
    const record = parsed ? await this.record(parsed.id) : null;
    if (!parsed || !record || record.revoked_on !== null || !secretMatches(parsed.secret, record.hash)) {
      throw new HookdError('UNAUTHORIZED', 'the API key is unknown or revoked');
    }
    if (record.organization_id !== organizationId) {
      throw new HookdError('FORBIDDEN', 'this API key belongs to another organization');
    }
  }
}

/** Guards every route whose path names an organization. */
export function installAuth(app: FastifyInstance, auth: Authenticator): void {
  app.addHook('onRequest', async (request) => {
    const params = request.params as { organization_id?: string } | undefined;
    if (params?.organization_id === undefined) return;
    await auth.check(request, params.organization_id);
  });
}
