// User media (images, audio, files) as Gemini parts. Policy: data URLs travel inline (base64); http(s) and gs://
// URLs travel by reference as fileData, fetched by Google, never by the gateway.
import { UnifiedError } from '../../unified/errors.js';
import { stringField } from '../../util/json.js';
import type { FileDataPart, InlineDataPart } from './wire.js';

/** fileData needs a MIME type; a URL only hints at it through its extension. */
const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  wav: 'audio/wav',
  mp3: 'audio/mp3',
  mp4: 'video/mp4',
};

/** What an image URL without a known extension is declared as (image_url parts carry images). */
export const DEFAULT_URL_IMAGE_MIME = 'image/jpeg';

function extensionMime(name: string): string | undefined {
  const match = /\.([A-Za-z0-9]+)$/.exec(name);
  return match ? MIME_BY_EXTENSION[match[1]!.toLowerCase()] : undefined;
}

/** RFC 2397: data:[<mediatype>][;base64],<data>. Non-base64 payloads are percent-decoded and re-encoded. */
function fromDataUrl(url: string, param: string): InlineDataPart {
  const match = /^data:([^,]*),(.*)$/s.exec(url);
  if (!match) throw new UnifiedError('invalid_request', `Invalid data URL in '${param}'.`, param);
  const params = match[1]!.split(';');
  const mimeType = params[0]!.trim().toLowerCase();
  if (!mimeType)
    throw new UnifiedError(
      'invalid_request',
      `The data URL in '${param}' must name a media type, e.g. data:image/png;base64,….`,
      param,
    );
  const payload = match[2]!;
  if (params.slice(1).some((p) => p.trim().toLowerCase() === 'base64')) {
    return { inlineData: { mimeType, data: payload } };
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(payload);
  } catch {
    throw new UnifiedError('invalid_request', `The data URL in '${param}' is not correctly percent-encoded.`, param);
  }
  return { inlineData: { mimeType, data: Buffer.from(decoded, 'utf8').toString('base64') } };
}

function fromRemoteUrl(url: string, defaultMime: string): FileDataPart {
  let pathname = url;
  try {
    pathname = new URL(url).pathname;
  } catch {
    // gs://bucket/object parses; anything else keeps the raw text for the extension lookup.
  }
  return { fileData: { mimeType: extensionMime(pathname) ?? defaultMime, fileUri: url } };
}

export function imageUrlPart(url: string, param: string): InlineDataPart | FileDataPart {
  if (url.startsWith('data:')) return fromDataUrl(url, param);
  if (/^(https?|gs):\/\//i.test(url)) return fromRemoteUrl(url, DEFAULT_URL_IMAGE_MIME);
  throw new UnifiedError('invalid_request', `'${param}' must be a data URL or an http(s) or gs:// URL.`, param);
}

/** OpenAI input_audio: base64 data plus a format name (wav, mp3); Gemini takes the IANA type. */
export function inputAudioPart(audio: Record<string, unknown>, param: string): InlineDataPart {
  const data = stringField(audio, 'data');
  const format = stringField(audio, 'format')?.toLowerCase();
  if (!data || !format) throw new UnifiedError('invalid_request', `'${param}' needs data and format.`, param);
  return { inlineData: { mimeType: format === 'mp3' ? 'audio/mp3' : `audio/${format}`, data } };
}

/** OpenAI file parts: inline file_data is sent; file_id names an OpenAI upload that Google cannot read. */
export function filePart(file: Record<string, unknown>, param: string): InlineDataPart {
  const fileData = stringField(file, 'file_data');
  if (file.file_id !== undefined || !fileData) {
    throw new UnifiedError(
      'invalid_request',
      `'${param}': Gemini backends accept files only as inline file_data, not file_id.`,
      param,
    );
  }
  if (fileData.startsWith('data:')) return fromDataUrl(fileData, param);
  const mimeType = extensionMime(stringField(file, 'filename') ?? '');
  if (!mimeType) {
    throw new UnifiedError(
      'invalid_request',
      `'${param}': send file_data as a data URL (data:<type>;base64,…) or give a filename with a known extension.`,
      param,
    );
  }
  return { inlineData: { mimeType, data: fileData } };
}
