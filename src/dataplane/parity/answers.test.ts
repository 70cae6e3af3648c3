// Parity with real Envoy 1.40 — docs/dataplane.md "Applying answers": mutation rules, clear_route_cache, body
// mutations and content-length, CONTINUE_AND_REPLACE, immediate responses, processing-mode overrides, BUFFERED
// limits, dynamic metadata. One bench (one Envoy) for the file; every scenario has its own route (cluster).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { METADATA_NAMESPACE, ROUTE_HEADER } from '../../extproc/contract.js';
import type { ImmediateResponse } from '../../generated/envoy/service/ext_proc/v3/ImmediateResponse.js';
import type { ProcessingResponse } from '../../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { jsonToStruct } from '../metadata.js';
import { headerMutation, replaceBody } from '../testing/answers.js';
import {
  byStage,
  continueFor,
  continueThrough,
  jsonOk,
  passThrough,
  sleep,
  startBench,
  type Bench,
  type Scenario,
} from './harness.js';
import { assertAgree, assertScriptsClean, forBoth, kinds } from './expect.js';

const T = { timeout: 30_000 };
const BUFFER_LIMIT = 1024;
const MODELS = [
  'rules',
  'pseudo',
  'append',
  'raw',
  'malformed',
  'method',
  'cl-strip',
  'crc-a',
  'crc-b',
  'crc-upstream',
  'too-large',
  'cl-mismatch',
  'cl-chunked',
  'replace',
  'immediate',
  'immediate-response',
  'immediate-late',
  'buffered',
  'override',
  'streamed',
  'cl-kept',
  'cl-removed',
  'resp-too-large',
  'resp-too-large-early',
  'metadata',
];

let bench: Bench;
before(async () => {
  bench = await startBench({
    backends: { a: {}, b: {} },
    routes: Object.fromEntries(MODELS.map((m) => [m, { backends: [{ backend: m === 'crc-b' ? 'b' : 'a' }] }])),
    settings: { bufferLimitBytes: BUFFER_LIMIT },
  });
});
after(async () => bench?.close());

/** Router stage: answers request_headers with `response`, then passes through. */
function onRequestHeaders(response: ProcessingResponse): Scenario['script'] {
  return byStage({
    router: async (s) => {
      await s.expect('request_headers');
      s.send(response);
      await passThrough(s);
    },
  });
}

test(
  'default mutation rules: :path changes; host, :authority, :method, :scheme, x-envoy-* and pseudo-header/host removals are ignored',
  T,
  async () => {
    const pair = await bench.both({
      model: 'rules',
      script: onRequestHeaders({
        request_headers: {
          response: {
            header_mutation: headerMutation(
              {
                ':path': '/rewritten?x=1',
                ':authority': 'evil.example',
                host: 'evil.example',
                ':method': 'DELETE',
                ':scheme': 'https',
                'x-envoy-retry-on': '5xx',
                'x-added': 'yes',
              },
              [':path', 'host', 'x-drop-me'],
            ),
          },
        },
      }),
      request: { headers: { 'x-drop-me': '1' } },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      const seen = o.upstream[0];
      assert.equal(seen?.url, '/rewritten?x=1');
      assert.equal(seen?.method, 'POST');
      assert.equal(seen?.headers['x-added'], 'yes');
      assert.equal(seen?.headers['x-drop-me'], undefined);
      assert.equal(seen?.headers['x-envoy-retry-on'], undefined);
      assert.notEqual(seen?.headers.host, 'evil.example');
    });
  },
);

test(
  'appending to a pseudo-header is ignored; a :status mutation must be a number ≥ 200 (100 and "abc" ignored)',
  T,
  async () => {
    for (const status of ['100', 'abc']) {
      const pair = await bench.both({
        model: 'pseudo',
        script: byStage({
          router: async (s) => {
            await s.expect('request_headers');
            s.send({
              request_headers: { response: { header_mutation: headerMutation({ ':path': '/appended' }, [], true) } },
            });
            await continueThrough(s, ['request_body']);
            await s.expect('response_headers');
            s.send({
              response_headers: { response: { header_mutation: headerMutation({ ':status': status, 'x-s': '1' }) } },
            });
            await passThrough(s);
          },
        }),
      });
      assertAgree(pair);
      assertScriptsClean(pair);
      forBoth(pair, (o) =>
        assert.deepEqual(
          [o.upstream[0]?.url, o.client.status, o.client.headers['x-s']],
          ['/v1/chat/completions', 200, '1'],
        ),
      );
    }
  },
);

test(
  'set_headers: overwrite unless the append BoolValue is true; append_action is not read (still so in 1.40)',
  T,
  async () => {
    const pair = await bench.both({
      model: 'append',
      script: onRequestHeaders({
        request_headers: {
          response: {
            header_mutation: {
              set_headers: [
                { header: { key: 'x-a', raw_value: Buffer.from('appended') }, append: { value: true } },
                { header: { key: 'x-b', raw_value: Buffer.from('overwritten') } },
                {
                  header: { key: 'x-c', raw_value: Buffer.from('not-appended') },
                  append_action: 'APPEND_IF_EXISTS_OR_ADD',
                },
                { header: { key: 'x-d', raw_value: Buffer.from('set-anyway') }, append_action: 'ADD_IF_ABSENT' },
              ],
            },
          },
        },
      }),
      request: { headers: { 'x-a': 'orig', 'x-b': 'orig', 'x-c': 'orig', 'x-d': 'orig' } },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      const h = o.upstream[0]?.headers ?? {};
      assert.deepEqual(
        [h['x-a'], h['x-b'], h['x-c'], h['x-d']],
        ['orig,appended', 'overwritten', 'not-appended', 'set-anyway'],
      );
    });
  },
);

test(
  'header values are read from raw_value only: value alone writes an empty header; value and raw_value both set takes raw_value (1.40: not an error)',
  T,
  async () => {
    const pair = await bench.both({
      model: 'raw',
      script: onRequestHeaders({
        request_headers: {
          response: {
            header_mutation: {
              set_headers: [
                { header: { key: 'x-value-only', value: 'text' } },
                { header: { key: 'x-both', value: 'a', raw_value: Buffer.from('b') } },
              ],
            },
          },
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 200);
      assert.equal(o.upstream[0]?.headers['x-value-only'], '');
      assert.equal(o.upstream[0]?.headers['x-both'], 'b');
    });
  },
);

test(
  "malformed header mutations are a 500 local reply with Envoy's details (invalid set/remove character, over 100 operations, over 100 resulting headers)",
  T,
  async () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
    const cases = {
      header_mutation_set_contains_invalid_character: headerMutation({ 'x-bad': 'a\nb' }),
      header_mutation_remove_contains_invalid_character: headerMutation({}, ['bad name']),
      header_mutation_operation_count_exceeds_limit: headerMutation(many(101)),
      header_mutation_result_exceeds_limit: headerMutation(many(95)),
    };
    for (const [details, mutation] of Object.entries(cases)) {
      const pair = await bench.both({
        model: 'malformed',
        script: onRequestHeaders({ request_headers: { response: { header_mutation: mutation } } }),
      });
      assertAgree(pair);
      forBoth(pair, (o) => {
        assert.equal(o.client.status, 500, details);
        assert.equal(o.log?.details, details);
        assert.equal(o.upstream.length, 0);
      });
    }
  },
);

test(':method may change only together with CONTINUE_AND_REPLACE', T, async () => {
  for (const replace of [true, false]) {
    const pair = await bench.both({
      model: 'method',
      script: onRequestHeaders({
        request_headers: {
          response: replace
            ? {
                status: 'CONTINUE_AND_REPLACE',
                header_mutation: headerMutation({ ':method': 'PUT' }),
                body_mutation: replaceBody('{"r":1}'),
              }
            : { header_mutation: headerMutation({ ':method': 'PUT' }) },
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => assert.equal(o.upstream[0]?.method, replace ? 'PUT' : 'POST'));
  }
});

test(
  'content-length set by the processor is skipped when the mode in force strips it (request body overridden to STREAMED in the same answer); the held content-length stays',
  T,
  async () => {
    const pair = await bench.both({
      model: 'cl-strip',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: {
              response: { header_mutation: headerMutation({ 'content-length': '999', 'x-set': 'y' }) },
            },
            mode_override: { request_body_mode: 'STREAMED', response_body_mode: 'BUFFERED' },
          });
          for (;;) s.send(continueFor(await s.next(5_000)));
        },
      }),
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      // STREAMED request body: the body arrived whole (content-length client), so its one chunk carries end_of_stream.
      assert.deepEqual(kinds(o)[0], 'router: request_headers request_body* response_headers response_body*');
      assert.equal(o.upstream[0]?.headers['content-length'], '27');
      assert.equal(o.upstream[0]?.headers['x-set'], 'y');
    });
  },
);

test(
  'clear_route_cache with a header_mutation in the same answer re-selects the route from the current headers',
  T,
  async () => {
    const pair = await bench.both({
      routeHeader: null,
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers']);
          await s.expect('request_body');
          s.send({
            request_body: {
              response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.crc-b' }), clear_route_cache: true },
            },
          });
          await passThrough(s);
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.body, '{"served_by":"b"}');
      assert.equal(o.upstream[0]?.upstream, 'b');
    });
  },
);

test(
  'clear_route_cache without a header_mutation in the same answer is ignored: the route chosen with the request headers stays',
  T,
  async () => {
    const pair = await bench.both({
      model: 'crc-a',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: { response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.crc-b' }) } },
          });
          await s.expect('request_body');
          s.send({ request_body: { response: { clear_route_cache: true } } });
          await passThrough(s);
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.body, '{"served_by":"a"}');
      assert.equal(o.upstream[0]?.headers[ROUTE_HEADER], 'llm.crc-b');
    });
  },
);

test('clear_route_cache from the upstream filter is ignored', T, async () => {
  const pair = await bench.both({
    model: 'crc-upstream',
    script: byStage({
      upstream: async (s) => {
        await s.expect('request_headers');
        s.send({
          request_headers: {
            response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.crc-b' }), clear_route_cache: true },
          },
        });
        await passThrough(s);
      },
    }),
  });
  assertAgree(pair);
  forBoth(pair, (o) => assert.equal(o.upstream[0]?.upstream, 'a'));
});

test(
  "BUFFERED request body over the buffer limit: 413 Payload Too Large (request_payload_too_large), which passes the router stage's response path; nothing goes upstream",
  T,
  async () => {
    const pair = await bench.both({
      model: 'too-large',
      script: passThrough,
      request: { body: JSON.stringify({ model: 'm', pad: 'y'.repeat(2 * BUFFER_LIMIT) }) },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 413);
      assert.equal(o.client.body, 'Payload Too Large');
      assert.equal(o.log?.details, 'request_payload_too_large');
      assert.deepEqual(kinds(o), ['router: request_headers response_headers response_body*']);
      assert.equal(o.upstream.length, 0);
    });
  },
);

test(
  'BUFFERED with the request headers held: a body mutation that disagrees with content-length is a 500; one that sets a matching content-length in the same answer goes upstream',
  T,
  async () => {
    for (const matching of [false, true]) {
      const pair = await bench.both({
        model: 'cl-mismatch',
        script: byStage({
          router: async (s) => {
            await continueThrough(s, ['request_headers']);
            await s.expect('request_body');
            s.send({
              request_body: {
                response: {
                  body_mutation: replaceBody('changed'),
                  ...(matching ? { header_mutation: headerMutation({ 'content-length': '7' }) } : {}),
                },
              },
            });
            await passThrough(s);
          },
        }),
      });
      assertAgree(pair);
      forBoth(pair, (o) => {
        if (matching) {
          assert.equal(o.upstream[0]?.body, 'changed');
          assert.equal(o.upstream[0]?.headers['content-length'], '7');
        } else {
          assert.equal(o.client.status, 500);
          assert.equal(o.log?.details, 'mismatch_between_content_length_and_the_length_of_the_mutated_body');
          assert.equal(o.upstream.length, 0);
        }
      });
    }
  },
);

test(
  'a mutated body without content-length (chunked client request) goes upstream chunked, without a content-length',
  T,
  async () => {
    const pair = await bench.both({
      model: 'cl-chunked',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers']);
          await s.expect('request_body');
          s.send({ request_body: { response: { body_mutation: replaceBody('changed') } } });
          await passThrough(s);
        },
      }),
      request: { chunkedBody: ['{"model":', '"m"}'] },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.upstream[0]?.body, 'changed');
      assert.equal(o.upstream[0]?.headers['content-length'], undefined);
    });
  },
);

test(
  'CONTINUE_AND_REPLACE on request headers: body replaced, content-length removed (the upstream gets it chunked), no request_body sent',
  T,
  async () => {
    const pair = await bench.both({
      model: 'replace',
      script: onRequestHeaders({
        request_headers: {
          response: { status: 'CONTINUE_AND_REPLACE', body_mutation: replaceBody('{"replaced":true}') },
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(kinds(o), [
        'router: request_headers response_headers response_body*',
        'upstream: request_headers request_body* response_headers',
      ]);
      assert.equal(o.extproc[1]?.messages[0]?.headers?.['content-length'], undefined);
      assert.equal(o.upstream[0]?.body, '{"replaced":true}');
      assert.equal(o.upstream[0]?.headers['content-length'], undefined);
    });
  },
);

test(
  'immediate_response on request headers or body: status (default 200, < 200 → 200), headers through the mutation rules, body, details with spaces → "_"; nothing upstream',
  T,
  async () => {
    const cases: Array<{
      at: 'request_headers' | 'request_body';
      response: ImmediateResponse;
      status: number;
      details: string;
    }> = [
      {
        at: 'request_headers',
        response: {
          status: { code: 'TooManyRequests' },
          headers: headerMutation({ 'content-type': 'application/json', 'retry-after': '3', 'x-envoy-nope': '1' }),
          body: Buffer.from('{"error":{"type":"rate_limit_error"}}'),
          details: 'budget exceeded',
        },
        status: 429,
        details: 'budget_exceeded',
      },
      {
        at: 'request_body',
        response: { status: { code: 'BadRequest' }, body: Buffer.from('bad model') },
        status: 400,
        details: '',
      },
      {
        at: 'request_headers',
        response: { status: { code: 'Continue' }, body: Buffer.from('x') },
        status: 200,
        details: '',
      },
      { at: 'request_headers', response: { body: Buffer.from('x') }, status: 200, details: '' },
    ];
    for (const c of cases) {
      const pair = await bench.both({
        model: 'immediate',
        script: byStage({
          router: async (s) => {
            if (c.at === 'request_body') await continueThrough(s, ['request_headers']);
            await s.expect(c.at);
            s.send({ immediate_response: c.response });
          },
        }),
      });
      assertAgree(pair);
      forBoth(pair, (o) => {
        assert.equal(o.client.status, c.status);
        assert.equal(o.client.body, (c.response.body ?? Buffer.alloc(0)).toString());
        assert.equal(o.log?.details, c.details);
        assert.equal(o.upstream.length, 0);
        assert.equal(o.extproc.filter((s) => s.stage === 'upstream').length, 0);
      });
      if (c.status === 429)
        forBoth(pair, (o) =>
          assert.deepEqual([o.client.headers['retry-after'], o.client.headers['x-envoy-nope']], ['3', undefined]),
        );
    }
  },
);

test(
  'immediate_response on response headers replaces the upstream response while the client has no headers yet',
  T,
  async () => {
    const pair = await bench.both({
      model: 'immediate-response',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await s.expect('response_headers');
          s.send({
            immediate_response: {
              status: { code: 'ServiceUnavailable' },
              headers: headerMutation({ 'content-type': 'application/json' }),
              body: Buffer.from('{"error":{}}'),
              details: 'provider_error',
            },
          });
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.client.headers['content-type'], o.log?.details],
        [503, '{"error":{}}', 'application/json', 'provider_error'],
      );
    });
  },
);

test('immediate_response after STREAMED response headers went out resets the client stream', T, async () => {
  const pair = await bench.both({
    model: 'immediate-late',
    script: byStage({
      router: async (s) => {
        await continueThrough(s, ['request_headers', 'request_body']);
        await s.expect('response_headers');
        s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
        await s.expect('response_body');
        s.send({ immediate_response: { status: { code: 'BadGateway' }, details: 'too late' } });
      },
    }),
    upstreams: {
      a: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end(), 300);
      },
    },
  });
  assertAgree(pair);
  forBoth(pair, (o) => {
    assert.equal(o.client.status, 200);
    assert.equal(o.client.reset, true);
    assert.deepEqual([o.log?.responseCode, o.log?.details], [200, 'too_late']);
  });
});

test(
  'BUFFERED response: :status in response_headers, one response_body with end_of_stream; status, header and body mutations apply; a mode_override in a body answer is ignored',
  T,
  async () => {
    const pair = await bench.both({
      model: 'buffered',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await s.expect('response_headers');
          s.send({
            response_headers: {
              response: { header_mutation: headerMutation({ ':status': '201', 'x-seen': 'headers' }) },
            },
          });
          await s.expect('response_body');
          s.send({
            response_body: {
              response: {
                header_mutation: headerMutation({ 'content-length': '9', 'x-body': 'yes' }),
                body_mutation: replaceBody('rewritten'),
              },
            },
            mode_override: { response_body_mode: 'STREAMED' },
          });
        },
      }),
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.equal(o.extproc[0]?.messages[2]?.headers?.[':status'], '200');
      assert.deepEqual(
        [
          o.client.status,
          o.client.body,
          o.client.headers['x-seen'],
          o.client.headers['x-body'],
          o.client.headers['content-length'],
        ],
        [201, 'rewritten', 'headers', 'yes', '9'],
      );
    });
  },
);

test(
  'mode_override on request_headers is read literally: body modes left unset mean NONE (no request_body), header modes unset keep the configuration',
  T,
  async () => {
    const pair = await bench.both({
      model: 'override',
      script: onRequestHeaders({ request_headers: {}, mode_override: { response_body_mode: 'STREAMED' } }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(kinds(o)[0], 'router: request_headers response_headers response_body*');
      assert.equal(o.upstream[0]?.body, '{"model":"m","messages":[]}');
    });
  },
);

test(
  'STREAMED response (mode_override): headers go out at once, one response_body per upstream chunk in order, each answer replaces its chunk, the end comes as an empty end_of_stream chunk (chunked upstream); header mutations in STREAMED body answers are ignored',
  T,
  async () => {
    const pair = await bench.both({
      model: 'streamed',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await s.expect('response_headers');
          s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
          for (;;) {
            const m = await s.expect('response_body');
            const text = (m.response_body?.body ?? Buffer.alloc(0)).toString();
            const eos = m.response_body?.end_of_stream === true;
            s.send({
              response_body: {
                response: {
                  body_mutation: replaceBody(eos ? `${text.toUpperCase()}[DONE]` : text.toUpperCase()),
                  header_mutation: headerMutation({ 'x-late': '1' }),
                },
              },
            });
            if (eos) break;
          }
        },
      }),
      upstreams: {
        a: async (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const piece of ['one', 'two', 'three']) {
            res.write(piece);
            await sleep(60);
          }
          res.end();
        },
      },
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.body, 'ONETWOTHREE[DONE]');
      assert.equal(o.client.headers['x-late'], undefined);
      assert.deepEqual(
        o.extproc[0]?.messages.slice(3).map((m) => `${m.body ?? ''}${m.endOfStream === true ? '*' : ''}`),
        ['one', 'two', 'three', '*'],
      );
    });
  },
);

/** Router stage: overrides the response to STREAMED (optionally removing content-length) and appends "!" per chunk. */
function streamedAppend(removeContentLength: boolean): Scenario['script'] {
  return byStage({
    router: async (s) => {
      await continueThrough(s, ['request_headers', 'request_body']);
      await s.expect('response_headers');
      s.send({
        response_headers: removeContentLength
          ? { response: { header_mutation: headerMutation({}, ['content-length']) } }
          : {},
        mode_override: { response_body_mode: 'STREAMED' },
      });
      for (;;) {
        const m = await s.expect('response_body');
        s.send({
          response_body: {
            response: { body_mutation: replaceBody(`${(m.response_body?.body ?? Buffer.alloc(0)).toString()}!`) },
          },
        });
        if (m.response_body?.end_of_stream === true) break;
      }
    },
  });
}

test(
  'content-length is stripped only for the mode configured when the headers pass: after a mode_override to STREAMED it stays unless the processor removes it (removed: the client gets the mutated body chunked; the last data chunk carries end_of_stream)',
  T,
  async () => {
    const pair = await bench.both({ model: 'cl-removed', script: streamedAppend(true) });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(
        o.extproc[0]?.messages[2]?.headers?.['content-length'],
        '17',
        'content-length was not stripped at headers time',
      );
      assert.deepEqual(
        [o.client.status, o.client.body, o.client.headers['content-length']],
        [200, '{"served_by":"a"}!', undefined],
      );
      assert.deepEqual(kinds(o)[0], 'router: request_headers request_body* response_headers response_body*');
    });
  },
);

test(
  'content-length kept after a mode_override to STREAMED and a chunk mutation that changes the size: Envoy answers 500 (mismatch, the headers are still held when the body came with them); the stand-in resets the client',
  T,
  async () => {
    const pair = await bench.both({ model: 'cl-kept', script: streamedAppend(false) });
    assertAgree(pair, { except: ['client', 'log'] });
    assert.deepEqual(
      [pair.envoy.client.status, pair.envoy.client.reset, pair.envoy.log?.details],
      [500, false, 'mismatch_between_content_length_and_the_length_of_the_mutated_body'],
    );
    // Stand-in deviation (docs/dataplane.md): headers went out at once, the extra byte resets the client.
    assert.deepEqual(
      [pair['stand-in'].client.status, pair['stand-in'].client.reset, pair['stand-in'].log?.details],
      [200, true, 'downstream_content_length_mismatch'],
    );
  },
);

test(
  'BUFFERED response body over the buffer limit: 500 Internal Server Error (response_payload_too_large) once the router stage has the headers',
  T,
  async () => {
    const big = 'x'.repeat(3 * BUFFER_LIMIT);
    const pair = await bench.both({
      model: 'resp-too-large',
      script: passThrough,
      upstreams: {
        a: async (_req, res) => {
          res.writeHead(200, { 'content-length': String(big.length) });
          res.flushHeaders();
          await sleep(150);
          res.end(big);
        },
      },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.log?.details],
        [500, 'Internal Server Error', 'response_payload_too_large'],
      );
      assert.deepEqual(kinds(o)[0], 'router: request_headers request_body* response_headers');
    });
  },
);

test(
  "BUFFERED response body over the limit arriving together with the headers: the same 500 after the router stage saw the headers (product runtime); with Envoy's default runtime the router stage never sees them",
  T,
  async (t) => {
    const big = 'x'.repeat(3 * BUFFER_LIMIT);
    const scenario: Scenario = {
      model: 'resp-too-large-early',
      script: passThrough,
      upstreams: { a: (_req, res) => void res.writeHead(200, { 'content-length': String(big.length) }).end(big) },
    };
    const pair = await bench.both(scenario);
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual([o.client.status, o.log?.details], [500, 'response_payload_too_large']);
      assert.deepEqual(kinds(o)[0], 'router: request_headers request_body* response_headers');
    });
    const plain = await startBench({
      backends: { a: {} },
      routes: { 'resp-too-large-early': { backends: [{ backend: 'a' }] } },
      settings: { bufferLimitBytes: BUFFER_LIMIT },
      vias: ['envoy'],
      bootstrap: (b) => {
        delete b.layered_runtime;
      },
    });
    t.after(() => plain.close());
    const o = await plain.run('envoy', scenario);
    assert.deepEqual(
      [o.client.status, o.log?.details, kinds(o)[0]],
      [500, 'response_payload_too_large', 'router: request_headers request_body*'],
    );
  },
);

test(
  "dynamic metadata: only namespace llm-extproc is kept, merged key by key in arrival order — the upstream stage's lands in the request's metadata too (none per attempt)",
  T,
  async () => {
    const md = (fields: Record<string, string | number>, other = false) =>
      jsonToStruct({ [METADATA_NAMESPACE]: fields, ...(other ? { 'other.ns': { secret: 'x' } } : {}) });
    const pair = await bench.both({
      model: 'metadata',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {}, dynamic_metadata: md({ caller: 'team-a', tokens: 0 }, true) });
          await continueThrough(s, ['request_body']);
          await s.expect('response_headers');
          s.send({ response_headers: {}, dynamic_metadata: md({ phase: 'router-response' }) });
          await s.expect('response_body');
          s.send({ response_body: {}, dynamic_metadata: md({ tokens: 42 }) });
        },
        upstream: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {}, dynamic_metadata: md({ caller: 'upstream-stage', provider: 'openai' }, true) });
          await continueThrough(s, ['request_body']);
          await s.expect('response_headers');
          s.send({ response_headers: {}, dynamic_metadata: md({ phase: 'upstream-response' }) });
        },
      }),
      upstreams: { a: jsonOk('a') },
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(o.log?.metadata, {
        caller: 'upstream-stage',
        phase: 'router-response',
        provider: 'openai',
        tokens: 42,
      });
      assert.equal(o.log?.attempts[0]?.metadata, undefined, "Envoy's upstream_log sees no per-attempt metadata");
    });
  },
);
