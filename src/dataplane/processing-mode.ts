// Pure: an ext_proc filter instance's processing mode and how it changes during one HTTP stream
// (api/envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto; ProcessorState::setProcessingMode and
// shouldRemoveContentLength in source/extensions/filters/http/ext_proc/processor_state.{h,cc}).
import type { ProcessingMode__Output } from '../generated/envoy/extensions/filters/http/ext_proc/v3/ProcessingMode.js';

export type HeaderSendMode = 'DEFAULT' | 'SEND' | 'SKIP';
export type BodySendMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED' | 'GRPC';
export type Direction = 'request' | 'response';

/** The ProcessingMode proto as it appears in Envoy YAML (all fields spelled out). */
export interface ProcessingModeConfig {
  readonly request_header_mode: HeaderSendMode;
  readonly response_header_mode: HeaderSendMode;
  readonly request_body_mode: BodySendMode;
  readonly response_body_mode: BodySendMode;
  readonly request_trailer_mode: HeaderSendMode;
  readonly response_trailer_mode: HeaderSendMode;
}

/** One direction's effective mode. Headers default to SEND, trailers to SKIP. */
export interface DirectionMode {
  sendHeaders: boolean;
  body: BodySendMode;
  sendTrailers: boolean;
}

export interface EffectiveModes {
  request: DirectionMode;
  response: DirectionMode;
}

function headerSend(mode: HeaderSendMode | undefined): boolean {
  return mode !== 'SKIP';
}

function trailerSend(mode: HeaderSendMode | undefined): boolean {
  return mode === 'SEND';
}

export function effectiveModes(config: ProcessingModeConfig): EffectiveModes {
  return {
    request: {
      sendHeaders: headerSend(config.request_header_mode),
      body: config.request_body_mode,
      sendTrailers: trailerSend(config.request_trailer_mode),
    },
    response: {
      sendHeaders: headerSend(config.response_header_mode),
      body: config.response_body_mode,
      sendTrailers: trailerSend(config.response_trailer_mode),
    },
  };
}

/**
 * A `mode_override` replaces the whole mode of both directions (request_header_mode excepted: the request
 * headers are already sent). Fields left out of the override message are proto defaults, so an override that
 * names only `response_body_mode: STREAMED` also sets `request_body_mode` to NONE — Envoy 1.31 reads the
 * message literally.
 */
export function applyModeOverride(current: EffectiveModes, override: ProcessingMode__Output): EffectiveModes {
  return {
    request: {
      sendHeaders: current.request.sendHeaders,
      body: override.request_body_mode ?? 'NONE',
      sendTrailers: trailerSend(override.request_trailer_mode),
    },
    response: {
      sendHeaders: headerSend(override.response_header_mode),
      body: override.response_body_mode ?? 'NONE',
      sendTrailers: trailerSend(override.response_trailer_mode),
    },
  };
}

/**
 * In these modes the filter cannot keep content-length right once the body may change, so Envoy removes it
 * (at headers time) and skips processor mutations that set it: STREAMED, BUFFERED_PARTIAL, BUFFERED + header SKIP.
 */
export function shouldRemoveContentLength(mode: DirectionMode): boolean {
  return (
    mode.body === 'STREAMED' || mode.body === 'BUFFERED_PARTIAL' || (mode.body === 'BUFFERED' && !mode.sendHeaders)
  );
}
