import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetsConfigSchema } from './config.js';
import {
  actualAmounts,
  costNanoUsd,
  firstViolation,
  fits,
  formatDuration,
  limitsOf,
  planFor,
  rateLimitHeaders,
  rejection,
  reservationAmounts,
  wallClock,
  windowBounds,
  type BudgetSubject,
} from './ledger.js';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const bounds = (window: Parameters<typeof windowBounds>[0], now: string, zone: string) => {
  const b = windowBounds(window, t(now), zone);
  return [iso(b.start), iso(b.end)];
};

describe('windows', () => {
  it('minute is epoch-aligned, hour follows the zone (half-hour offsets)', () => {
    assert.deepEqual(bounds('minute', '2024-05-05T10:20:30.500Z', 'Asia/Kolkata'), [
      '2024-05-05T10:20:00.000Z',
      '2024-05-05T10:21:00.000Z',
    ]);
    assert.deepEqual(bounds('hour', '2024-05-05T10:20:30.500Z', 'UTC'), [
      '2024-05-05T10:00:00.000Z',
      '2024-05-05T11:00:00.000Z',
    ]);
    // 15:50:30 in Kolkata (+05:30): the local hour 15:00–16:00.
    assert.deepEqual(bounds('hour', '2024-05-05T10:20:30.500Z', 'Asia/Kolkata'), [
      '2024-05-05T09:30:00.000Z',
      '2024-05-05T10:30:00.000Z',
    ]);
  });

  it('day: local midnights, 23 h and 25 h on DST days', () => {
    assert.deepEqual(bounds('day', '2024-05-05T00:00:00.000Z', 'UTC'), [
      '2024-05-05T00:00:00.000Z',
      '2024-05-06T00:00:00.000Z',
    ]);
    assert.deepEqual(bounds('day', '2024-05-04T23:59:59.999Z', 'UTC'), [
      '2024-05-04T00:00:00.000Z',
      '2024-05-05T00:00:00.000Z',
    ]);
    assert.deepEqual(bounds('day', '2024-03-10T12:00:00Z', 'America/New_York'), [
      '2024-03-10T05:00:00.000Z',
      '2024-03-11T04:00:00.000Z',
    ]);
    assert.deepEqual(bounds('day', '2024-11-03T12:00:00Z', 'America/New_York'), [
      '2024-11-03T04:00:00.000Z',
      '2024-11-04T05:00:00.000Z',
    ]);
    // 01:30 local happens twice on 2024-11-03; both belong to that day.
    assert.deepEqual(bounds('day', '2024-11-03T05:30:00Z', 'America/New_York'), [
      '2024-11-03T04:00:00.000Z',
      '2024-11-04T05:00:00.000Z',
    ]);
    assert.deepEqual(bounds('day', '2024-11-03T06:30:00Z', 'America/New_York'), [
      '2024-11-03T04:00:00.000Z',
      '2024-11-04T05:00:00.000Z',
    ]);
    assert.deepEqual(bounds('day', '2024-03-31T12:00:00Z', 'Europe/Berlin'), [
      '2024-03-30T23:00:00.000Z',
      '2024-03-31T22:00:00.000Z',
    ]);
  });

  it('day starting inside a DST gap starts at the first instant of the local date', () => {
    // Chile moves 2024-09-08 00:00 → 01:00: that day has no midnight.
    const { start, end } = windowBounds('day', t('2024-09-08T15:00:00Z'), 'America/Santiago');
    assert.deepEqual(wallClock(start, 'America/Santiago'), {
      year: 2024,
      month: 9,
      day: 8,
      hour: 1,
      minute: 0,
      second: 0,
    });
    assert.equal(wallClock(start - 1, 'America/Santiago').day, 7);
    assert.equal(end - start, 23 * 3_600_000);
    const previous = windowBounds('day', start - 1, 'America/Santiago');
    assert.equal(previous.end, start);
  });

  it('hour windows stay contiguous across DST changes', () => {
    for (const zone of ['America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'America/Santiago']) {
      for (const day of ['2024-03-10', '2024-03-31', '2024-09-08', '2024-11-03', '2024-10-27']) {
        let at = t(`${day}T00:00:00Z`);
        const stop = at + 30 * 3_600_000;
        while (at < stop) {
          const b = windowBounds('hour', at, zone);
          assert.ok(b.start <= at && at < b.end, `${zone} ${iso(at)}`);
          const next = windowBounds('hour', b.end, zone);
          assert.equal(next.start, b.end, `${zone} ${iso(at)}`);
          at = b.end;
        }
      }
    }
  });

  it('ISO week starts on Monday, across DST and year ends', () => {
    // Sunday 2024-03-10 in New York: week of Monday 03-04 (EST) to Monday 03-11 (EDT).
    assert.deepEqual(bounds('week', '2024-03-10T12:00:00Z', 'America/New_York'), [
      '2024-03-04T05:00:00.000Z',
      '2024-03-11T04:00:00.000Z',
    ]);
    assert.deepEqual(bounds('week', '2024-03-11T04:00:00Z', 'America/New_York'), [
      '2024-03-11T04:00:00.000Z',
      '2024-03-18T04:00:00.000Z',
    ]);
    assert.deepEqual(bounds('week', '2025-01-01T12:00:00Z', 'UTC'), [
      '2024-12-30T00:00:00.000Z',
      '2025-01-06T00:00:00.000Z',
    ]);
    // Sunday evening UTC is already Monday in Tokyo.
    assert.deepEqual(bounds('week', '2024-05-05T20:00:00Z', 'Asia/Tokyo'), [
      '2024-05-05T15:00:00.000Z',
      '2024-05-12T15:00:00.000Z',
    ]);
  });

  it('month: leap February, year end, zone boundaries', () => {
    assert.deepEqual(bounds('month', '2024-02-29T23:59:59.999Z', 'UTC'), [
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
    assert.deepEqual(bounds('month', '2023-02-15T00:00:00Z', 'UTC'), [
      '2023-02-01T00:00:00.000Z',
      '2023-03-01T00:00:00.000Z',
    ]);
    assert.deepEqual(bounds('month', '2024-12-31T12:00:00Z', 'UTC'), [
      '2024-12-01T00:00:00.000Z',
      '2025-01-01T00:00:00.000Z',
    ]);
    assert.deepEqual(bounds('month', '2024-01-31T23:00:00Z', 'UTC'), [
      '2024-01-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z',
    ]);
    // 00:30 on 1 April in Berlin (CEST) is still 31 March in UTC.
    assert.deepEqual(bounds('month', '2024-03-31T22:30:00Z', 'Europe/Berlin'), [
      '2024-03-31T22:00:00.000Z',
      '2024-04-30T22:00:00.000Z',
    ]);
    assert.deepEqual(bounds('month', '2024-03-31T21:59:59Z', 'Europe/Berlin'), [
      '2024-02-29T23:00:00.000Z',
      '2024-03-31T22:00:00.000Z',
    ]);
  });
});

const prices = { 'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 }, plain: { input: 1, output: 2 } };

describe('money and amounts', () => {
  it('prices cached input at cachedInput (defaulting to input)', () => {
    // (600 × 0.15 + 400 × 0.075 + 500 × 0.6) USD / 1M = 0.00042 USD.
    assert.equal(
      costNanoUsd(prices, 'gpt-4o-mini', { promptTokens: 1000, cachedPromptTokens: 400, completionTokens: 500 }),
      420_000,
    );
    assert.equal(
      costNanoUsd(prices, 'plain', { promptTokens: 1000, cachedPromptTokens: 400, completionTokens: 500 }),
      2_000_000,
    );
    assert.equal(costNanoUsd(prices, 'unknown', { promptTokens: 1000, completionTokens: 500 }), 0);
    assert.equal(
      costNanoUsd({ ...prices, '*': { input: 10, output: 10 } }, 'unknown', { promptTokens: 1, completionTokens: 0 }),
      10_000,
    );
  });

  it('reserves prompt + expected completion (× n), priced without the cache discount', () => {
    assert.deepEqual(
      reservationAmounts({ model: 'gpt-4o-mini', promptTokens: 1000, maxCompletionTokens: 500 }, prices, 1024),
      {
        requests: 1,
        inputTokens: 1000,
        outputTokens: 500,
        totalTokens: 1500,
        costUsd: 450_000,
      },
    );
    const a = reservationAmounts({ model: 'gpt-4o-mini', promptTokens: 10, n: 3 }, prices, 100);
    assert.equal(a.outputTokens, 300);
    assert.equal(a.totalTokens, 310);
    assert.deepEqual(
      actualAmounts('gpt-4o-mini', { promptTokens: 1000, cachedPromptTokens: 400, completionTokens: 500 }, prices),
      {
        requests: 1,
        inputTokens: 1000,
        outputTokens: 500,
        totalTokens: 1500,
        costUsd: 420_000,
      },
    );
  });
});

describe('fit check, violations and headers', () => {
  const config = budgetsConfigSchema.parse({});
  const chain: BudgetSubject[] = [
    {
      level: 'organisation',
      id: 'acme',
      limits: limitsOf(
        [
          { window: 'month', costUsd: 1 },
          { window: 'day', totalTokens: 10_000 },
        ],
        undefined,
      ),
    },
    { level: 'team', id: 'acme/search', limits: limitsOf([{ window: 'day', requests: 100 }], { rpm: 10, tpm: 5000 }) },
  ];
  const now = t('2024-05-05T10:20:30Z');
  const plan = planFor(chain, now, config.timeZone);
  const amounts = reservationAmounts(
    { model: 'gpt-4o-mini', promptTokens: 1000, maxCompletionTokens: 500 },
    prices,
    1024,
  );

  it('plans one counter per subject and window, one check per limit', () => {
    assert.deepEqual(
      plan.counters.map((c) => `${c.subject} ${c.window}`),
      ['acme month', 'acme day', 'acme/search day', 'acme/search minute'],
    );
    assert.deepEqual(
      plan.checks.map((c) => `${c.counter} ${c.limit.kind} ${c.limit.metric} ${c.limit.amount}`),
      [
        '0 quota costUsd 1000000000',
        '1 quota totalTokens 10000',
        '2 quota requests 100',
        '3 rate requests 10',
        '3 rate totalTokens 5000',
      ],
    );
  });

  it('fits when every check has room; reports the first violated limit', () => {
    assert.ok(fits(plan.checks, [0, 0, 0, 0, 0], amounts));
    assert.ok(fits(plan.checks, [0, 8500, 99, 9, 3500], amounts)); // exactly at every limit
    assert.equal(firstViolation(plan, [0, 8500, 99, 9, 3500], amounts), undefined);
    const current = [0, 0, 0, 9, 3501];
    assert.ok(!fits(plan.checks, current, amounts));
    const v = firstViolation(plan, current, amounts);
    assert.deepEqual(v, {
      code: 'rate_limit_exceeded',
      level: 'team',
      subject: 'acme/search',
      window: 'minute',
      metric: 'totalTokens',
      limit: 5000,
      current: 3501,
      requested: 1500,
      remaining: 1499,
      resetAt: t('2024-05-05T10:21:00Z'),
    });
    const money = firstViolation(plan, [999_999_999, 0, 0, 0, 0], amounts);
    assert.equal(money?.code, 'insufficient_quota');
    assert.equal(money?.metric, 'costUsd');
    assert.equal(money?.limit, 1);
    assert.equal(money?.remaining, 1e-9);
  });

  it('headers name the tightest request and token limits; the 429 carries retry-after', () => {
    assert.deepEqual(rateLimitHeaders(plan, [0, 1000, 50, 2, 100], amounts, now, true), {
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '7',
      'x-ratelimit-reset-requests': '30s',
      'x-ratelimit-limit-tokens': '5000',
      'x-ratelimit-remaining-tokens': '3400',
      'x-ratelimit-reset-tokens': '30s',
    });
    const current = [0, 9000, 0, 0, 0];
    const headers = rateLimitHeaders(plan, current, amounts, now, false);
    assert.equal(headers['x-ratelimit-remaining-tokens'], '1000');
    assert.equal(headers['x-ratelimit-reset-tokens'], '13h39m30s');
    const r = rejection(firstViolation(plan, current, amounts)!, headers, now);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], String(13 * 3600 + 39 * 60 + 30));
    assert.equal(r.body.error.code, 'insufficient_quota');
    assert.equal(r.body.error.type, 'insufficient_quota');
    assert.match(r.body.error.message, /organisation acme on tokens per day: limit 10000, used 9000, requested 1500/);
  });

  it('formats durations like OpenAI', () => {
    assert.equal(formatDuration(20), '20ms');
    assert.equal(formatDuration(1000), '1s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(360_000), '6m0s');
    assert.equal(formatDuration(3_723_000), '1h2m3s');
  });
});
