import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetsConfigSchema, type BudgetsConfigInput } from './config.js';
import { allSubjects, hashKey, resolveIdentity } from './identity.js';

const KEY = 'sk-virtual-search-prod-0123456789';
const input: BudgetsConfigInput = {
  prices: { 'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 } },
  organisations: [
    {
      name: 'acme',
      limits: [
        { window: 'month', costUsd: 5000 },
        { window: 'day', totalTokens: 50_000_000 },
      ],
      teams: [
        {
          name: 'search',
          limits: [{ window: 'week', costUsd: 500 }],
          rate: { rpm: 600, tpm: 2_000_000 },
          keys: [{ name: 'search-prod', sha256: hashKey(KEY).toUpperCase(), rate: { rpm: 60 } }],
          workloads: [{ principal: 'spiffe://cluster.local/ns/search/sa/api', name: 'api' }],
        },
      ],
    },
  ],
  trustedTenantHeader: { fromPrincipals: ['spiffe://cluster.local/ns/gateway/sa/ingress'] },
};
const config = budgetsConfigSchema.parse(input);

describe('budgets config', () => {
  it('fills defaults', () => {
    const c = budgetsConfigSchema.parse({});
    assert.deepEqual(c.store, { kind: 'memory' });
    assert.equal(c.onStoreFailure, 'fail-closed');
    assert.equal(c.timeZone, 'UTC');
    assert.equal(c.defaultCompletionTokens, 1024);
    assert.equal(c.reservationTtlSeconds, 600);
    assert.deepEqual(budgetsConfigSchema.parse({ store: { kind: 'redis' } }).store, {
      kind: 'redis',
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'llm-extproc:',
      commandTimeoutMs: 200,
    });
    assert.equal(config.trustedTenantHeader?.name, 'x-llm-tenant');
    assert.equal(config.organisations[0]!.teams[0]!.keys[0]!.sha256, hashKey(KEY)); // lower-cased
  });

  it('rejects mistakes with paths and messages naming the field', () => {
    const issues = (value: unknown) =>
      budgetsConfigSchema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    assert.deepEqual(issues({ timeZone: 'Mars/Olympus' }), [
      'timeZone: expected an IANA time zone such as UTC or Europe/Paris',
    ]);
    assert.deepEqual(issues({ organisations: [{ name: 'a', limits: [{ window: 'day' }] }] }), [
      'organisations.0.limits.0: a limit needs at least one of requests, inputTokens, outputTokens, totalTokens, costUsd',
    ]);
    assert.equal(
      issues({ organisations: [{ name: 'a', limits: [{ window: 'year', requests: 1 }] }] })[0]?.startsWith(
        'organisations.0.limits.0.window',
      ),
      true,
    );
    assert.equal(
      issues({ organisations: [{ name: 'a', bogus: 1 }] })[0]?.startsWith('organisations.0: Unrecognized key'),
      true,
    );
    assert.deepEqual(
      issues({ organisations: [{ name: 'a', teams: [{ name: 't', keys: [{ name: 'k', sha256: 'abc' }] }] }] }),
      ['organisations.0.teams.0.keys.0.sha256: expected the SHA-256 of the key as 64 hex digits'],
    );
    const h = hashKey('x');
    assert.deepEqual(
      issues({
        organisations: [
          {
            name: 'a',
            teams: [
              {
                name: 't',
                keys: [
                  { name: 'k', sha256: h },
                  { name: 'k', sha256: h },
                ],
              },
              { name: 't' },
            ],
          },
          { name: 'a' },
        ],
      }),
      [
        'organisations.0.teams.0.keys.1.name: duplicate name "k" in team "t"',
        'organisations.0.teams.0.keys.1.sha256: same key hash as a/t/k',
        'organisations.0.teams.1.name: duplicate team "t" in "a"',
        'organisations.1.name: duplicate organisation "a"',
      ],
    );
    assert.deepEqual(issues({ store: { kind: 'redis', url: 'http://x' } }), [
      'store.url: expected redis://host:port or rediss://host:port',
    ]);
  });
});

describe('resolveIdentity', () => {
  it('resolves a virtual key to organisation → team → key', () => {
    const r = resolveIdentity({ authorization: `Bearer ${KEY}` }, config);
    assert.ok(r.ok);
    assert.equal(r.via, 'key');
    assert.deepEqual(
      r.chain.map((s) => `${s.level}:${s.id}`),
      ['organisation:acme', 'team:acme/search', 'key:acme/search/search-prod'],
    );
    assert.deepEqual(r.chain[2]!.limits, [{ kind: 'rate', window: 'minute', metric: 'requests', amount: 60 }]);
  });

  it('rejects unknown and missing keys with 401 and never echoes the key', () => {
    const unknown = resolveIdentity({ authorization: 'Bearer sk-wrong-secret' }, config);
    assert.ok(!unknown.ok);
    assert.equal(unknown.response.status, 401);
    assert.equal(unknown.response.body.error.code, 'invalid_api_key');
    assert.ok(!JSON.stringify(unknown).includes('sk-wrong-secret'));
    assert.ok(!JSON.stringify(unknown).includes(hashKey('sk-wrong-secret')));
    const missing = resolveIdentity({}, config);
    assert.ok(!missing.ok);
    assert.equal(missing.response.body.error.code, 'missing_api_key');
    assert.ok(!resolveIdentity({ authorization: 'Basic abc' }, config).ok);
  });

  it('resolves mesh workloads by principal, even when the SDK sends a placeholder key', () => {
    const principal = 'spiffe://cluster.local/ns/search/sa/api';
    for (const authorization of [undefined, 'Bearer unused-by-the-gateway']) {
      const r = resolveIdentity({ principal, authorization }, config);
      assert.ok(r.ok);
      assert.equal(r.via, 'workload');
      assert.equal(r.chain[2]!.id, 'acme/search/api');
    }
    // A configured key wins over the workload identity.
    const both = resolveIdentity({ principal, authorization: `Bearer ${KEY}` }, config);
    assert.ok(both.ok && both.via === 'key');
  });

  it('honours the tenant header only from trusted principals', () => {
    const trusted = 'spiffe://cluster.local/ns/gateway/sa/ingress';
    const team = resolveIdentity({ principal: trusted, tenantHeader: 'acme/search' }, config);
    assert.ok(team.ok && team.via === 'tenant-header');
    assert.deepEqual(
      team.chain.map((s) => s.id),
      ['acme', 'acme/search'],
    );
    const key = resolveIdentity({ principal: trusted, tenantHeader: 'acme/search/search-prod' }, config);
    assert.ok(key.ok && key.chain.length === 3);
    assert.ok(!resolveIdentity({ principal: trusted, tenantHeader: 'acme/nope' }, config).ok);
    // From anyone else the header is ignored.
    const forged = resolveIdentity({ principal: 'spiffe://evil', tenantHeader: 'acme/search' }, config);
    assert.ok(!forged.ok && forged.response.body.error.code === 'missing_api_key');
  });

  it('lists every subject once, parents first', () => {
    assert.deepEqual(
      allSubjects(config).map((s) => s.id),
      ['acme', 'acme/search', 'acme/search/search-prod', 'acme/search/api'],
    );
  });
});
