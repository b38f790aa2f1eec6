// Authentication: open development mode while no key exists; keys from `hookd keys create` take effect within a second.
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestApp, subscriberBody, tenantPath, type TestApp } from '../helpers/app.ts';
import { runHookd } from '../helpers/process.ts';

let hookd: TestApp | undefined;
afterEach(async () => {
  await hookd?.close();
  hookd = undefined;
});

const P = tenantPath('org_1', 'ext_1');
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('authentication', () => {
  it('accepts requests without a key while no key exists, then requires one', async () => {
    hookd = await startTestApp({ role: 'api' });
    expect((await hookd.call('GET', `${P}/subscriber`)).status).toBe(200);

    const created = await runHookd(['keys', 'create', '--organization', 'org_1', '--name', 'ci'], { HOOKD_DATABASE_URL: `sqlite:${hookd.dbPath}` });
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^hkd_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);

    await eventually(async () => (await hookd!.call('GET', `${P}/subscriber`)).status === 401, 10_000);
    const missing = await hookd.call('GET', `${P}/subscriber`);
    expect(missing.body).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    expect((await hookd.call('GET', `${P}/subscriber`, undefined, bearer(key))).status).toBe(200);
    // every extension of the organization
    expect((await hookd.call('GET', tenantPath('org_1', 'other_ext') + '/subscriber', undefined, bearer(key))).status).toBe(200);
    const otherOrg = await hookd.call('GET', tenantPath('org_2', 'ext_1') + '/subscriber', undefined, bearer(key));
    expect(otherOrg.status).toBe(403);
    expect(otherOrg.body.code).toBe('FORBIDDEN');
    const wrong = await hookd.call('GET', `${P}/subscriber`, undefined, bearer(key.slice(0, -2) + 'xx'));
    expect(wrong.status).toBe(401);
    // Service endpoints need no key.
    expect((await hookd.call('GET', '/healthz')).status).toBe(200);

    const listed = await runHookd(['keys', 'list', '--json'], { HOOKD_DATABASE_URL: `sqlite:${hookd.dbPath}` });
    const records = JSON.parse(listed.stdout);
    expect(records).toEqual([expect.objectContaining({ organization_id: 'org_1', name: 'ci', revoked_on: null })]);
    // The secret part may itself hold '_' (base64url), so cut it by position: hkd_<12 hex>_<secret>.
    expect(listed.stdout).not.toContain(key.slice('hkd_'.length + 12 + 1));

    const revoked = await runHookd(['keys', 'revoke', records[0].id], { HOOKD_DATABASE_URL: `sqlite:${hookd.dbPath}` });
    expect(revoked.code).toBe(0);
  });

  it('checks the key before reading the body', async () => {
    hookd = await startTestApp({ role: 'api' });
    const { stdout } = await runHookd(['keys', 'create', '--organization', 'org_1'], { HOOKD_DATABASE_URL: `sqlite:${hookd.dbPath}` });
    await eventually(async () => (await hookd!.call('GET', `${P}/subscriber`)).status === 401, 10_000);
    const res = await hookd.call('POST', `${P}/subscriber`, '{not json');
    expect(res.status).toBe(401);
    const ok = await hookd.call('POST', `${P}/subscriber`, subscriberBody('http://127.0.0.1:9/x'), bearer(stdout.trim()));
    expect(ok.status).toBe(201);
  });

  it('refuses a bad organization id for a key', async () => {
    const res = await runHookd(['keys', 'create', '--organization', 'bad org'], { HOOKD_DATABASE_URL: 'sqlite::memory:' });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--organization must match/);
  });

  it('refuses to start with a bad configuration, naming the variable', async () => {
    const res = await runHookd(['serve'], { HOOKD_PORT: 'eighty' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('HOOKD_PORT must be an integer');
  });
});
