import { describe, expect, it } from 'vitest';
import { ConfigError, configWith, loadConfig } from '../../src/config.ts';

describe('loadConfig defaults (DESIGN.md § Configuration)', () => {
  it('gives a working local set-up from an empty environment', () => {
    expect(loadConfig({})).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'sqlite:./data/hookd.db',
      allowPrivateNetworks: false,
      role: 'all',
      logLevel: 'info',
      smtpUrl: undefined,
      retentionDays: 30,
    });
  });

  it('treats empty and blank values as unset', () => {
    const blank = {
      HOOKD_PORT: '',
      HOOKD_HOST: ' ',
      HOOKD_DATABASE_URL: '',
      HOOKD_ALLOW_PRIVATE_NETWORKS: '',
      HOOKD_ROLE: '',
      HOOKD_LOG_LEVEL: '  ',
      HOOKD_SMTP_URL: '',
      HOOKD_RETENTION_DAYS: '',
    };
    expect(loadConfig(blank)).toEqual(loadConfig({}));
  });

  it('reads nothing from the environment in configWith', () => {
    expect(configWith({ port: 1234 })).toEqual({ ...loadConfig({}), port: 1234 });
  });
});

describe('loadConfig reads each setting', () => {
  it.each([
    [{ HOOKD_PORT: '9090' }, { port: 9090 }],
    [{ HOOKD_PORT: ' 9090 ' }, { port: 9090 }],
    [{ HOOKD_PORT: '0' }, { port: 0 }],
    [{ HOOKD_PORT: '65535' }, { port: 65535 }],
    [{ HOOKD_HOST: '0.0.0.0' }, { host: '0.0.0.0' }],
    [{ HOOKD_DATABASE_URL: 'sqlite::memory:' }, { databaseUrl: 'sqlite::memory:' }],
    [{ HOOKD_DATABASE_URL: 'postgres://u:p@db:5432/hookd' }, { databaseUrl: 'postgres://u:p@db:5432/hookd' }],
    [{ HOOKD_DATABASE_URL: 'postgresql://db/hookd' }, { databaseUrl: 'postgresql://db/hookd' }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'true' }, { allowPrivateNetworks: true }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'TRUE' }, { allowPrivateNetworks: true }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: '1' }, { allowPrivateNetworks: true }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'yes' }, { allowPrivateNetworks: true }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'on' }, { allowPrivateNetworks: true }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'false' }, { allowPrivateNetworks: false }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: '0' }, { allowPrivateNetworks: false }],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'off' }, { allowPrivateNetworks: false }],
    [{ HOOKD_ROLE: 'api' }, { role: 'api' }],
    [{ HOOKD_ROLE: 'dispatcher' }, { role: 'dispatcher' }],
    [{ HOOKD_ROLE: 'all' }, { role: 'all' }],
    [{ HOOKD_LOG_LEVEL: 'debug' }, { logLevel: 'debug' }],
    [{ HOOKD_LOG_LEVEL: 'silent' }, { logLevel: 'silent' }],
    [{ HOOKD_SMTP_URL: 'smtp://mail:25' }, { smtpUrl: 'smtp://mail:25' }],
    [{ HOOKD_SMTP_URL: 'smtps://u:p@mail:465' }, { smtpUrl: 'smtps://u:p@mail:465' }],
    [{ HOOKD_RETENTION_DAYS: '7' }, { retentionDays: 7 }],
    [{}, { databasePoolSize: 10 }],
    [{ HOOKD_DATABASE_POOL_SIZE: '50' }, { databasePoolSize: 50 }],
  ])('%j → %j', (env, expected) => {
    expect(loadConfig(env)).toMatchObject(expected);
  });
});

describe('loadConfig rejects bad values with a ConfigError naming the variable', () => {
  it.each([
    [{ HOOKD_PORT: 'abc' }, /HOOKD_PORT must be an integer/],
    [{ HOOKD_PORT: '80.5' }, /HOOKD_PORT must be an integer/],
    [{ HOOKD_PORT: '8080x' }, /HOOKD_PORT must be an integer/],
    [{ HOOKD_PORT: '1e3' }, /HOOKD_PORT must be an integer/],
    [{ HOOKD_PORT: '65536' }, /HOOKD_PORT must be between 0 and 65535/],
    [{ HOOKD_PORT: '-1' }, /HOOKD_PORT must be between 0 and 65535/],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: 'maybe' }, /HOOKD_ALLOW_PRIVATE_NETWORKS must be true or false, got "maybe"/],
    [{ HOOKD_ALLOW_PRIVATE_NETWORKS: '2' }, /HOOKD_ALLOW_PRIVATE_NETWORKS must be true or false/],
    [{ HOOKD_ROLE: 'worker' }, /HOOKD_ROLE must be one of all, api, dispatcher, got "worker"/],
    [{ HOOKD_ROLE: 'API' }, /HOOKD_ROLE must be one of/],
    [{ HOOKD_LOG_LEVEL: 'verbose' }, /HOOKD_LOG_LEVEL must be one of/],
    [{ HOOKD_DATABASE_POOL_SIZE: '0' }, /HOOKD_DATABASE_POOL_SIZE must be between 1 and 200/],
    [{ HOOKD_DATABASE_POOL_SIZE: '201' }, /HOOKD_DATABASE_POOL_SIZE must be between 1 and 200/],
    [{ HOOKD_DATABASE_URL: 'mysql://db/hookd' }, /HOOKD_DATABASE_URL must start with sqlite: or postgres:\/\//],
    [{ HOOKD_DATABASE_URL: './data/hookd.db' }, /HOOKD_DATABASE_URL must start with sqlite: or postgres:\/\//],
    [{ HOOKD_DATABASE_URL: 'sqlite:' }, /HOOKD_DATABASE_URL "sqlite:" needs a file path/],
    [{ HOOKD_SMTP_URL: 'mail.example.com' }, /HOOKD_SMTP_URL must start with smtp:\/\/ or smtps:\/\//],
    [{ HOOKD_RETENTION_DAYS: '0' }, /HOOKD_RETENTION_DAYS must be between 1 and 36500/],
    [{ HOOKD_RETENTION_DAYS: 'thirty' }, /HOOKD_RETENTION_DAYS must be an integer/],
  ])('%j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('does not echo database credentials in the error', () => {
    let error: unknown;
    try {
      loadConfig({ HOOKD_DATABASE_URL: 'mysql://admin:hunter2@db/hookd' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).toContain('mysql://***@db/hookd');
  });

  it('is an Error', () => {
    expect(() => loadConfig({ HOOKD_PORT: 'x' })).toThrow(Error);
  });
});
