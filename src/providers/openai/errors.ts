// The errors the OpenAI family's translators add themselves: a generation that failed upstream, a cut-off stream.
import type { OpenAIErrorBody } from '../../unified/errors.js';

export function upstreamFailure(reason: string): OpenAIErrorBody {
  return {
    error: {
      message: `The upstream model stopped with finish_reason "${reason}": the generation failed.`,
      type: 'server_error',
      param: null,
      code: 'upstream_error',
    },
  };
}

export function truncatedStream(): OpenAIErrorBody {
  return {
    error: {
      message: 'The upstream stream ended before [DONE].',
      type: 'server_error',
      param: null,
      code: 'upstream_stream_truncated',
    },
  };
}
