// OpenAI content parts → Anthropic content blocks: text, images (data URLs and http(s) URLs) and PDF files.
import { UnifiedError } from '../../unified/errors.js';
import type {
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicImageMediaType,
  AnthropicTextBlock,
  AnthropicUserBlock,
} from './wire.js';

const IMAGE_MEDIA_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** `image/jpg` is not a registered type, but clients send it; Anthropic only knows `image/jpeg`. */
const MEDIA_TYPE_ALIASES: Readonly<Record<string, string>> = { 'image/jpg': 'image/jpeg' };

/** Anthropic rejects empty and whitespace-only text blocks; they carry nothing, so they are left out. */
export function hasText(text: string): boolean {
  return text.trim().length > 0;
}

export function textBlocks(content: string | ReadonlyArray<{ text: string }>): AnthropicTextBlock[] {
  const texts = typeof content === 'string' ? [content] : content.map((part) => part.text);
  return texts.filter(hasText).map((text) => ({ type: 'text', text }));
}

interface DataUrl {
  readonly mediaType: string;
  readonly data: string;
}

/** Splits `data:<type>[;params];base64,<data>` without a regex over a possibly multi-megabyte string. */
export function parseBase64DataUrl(url: string): DataUrl | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma === -1) return undefined;
  const params = url.slice(5, comma).split(';');
  if (params.at(-1)?.toLowerCase() !== 'base64') return undefined;
  const mediaType = (params[0] ?? '').trim().toLowerCase();
  return { mediaType: MEDIA_TYPE_ALIASES[mediaType] ?? mediaType, data: url.slice(comma + 1) };
}

export function imageBlock(url: string, param: string): AnthropicImageBlock {
  if (url.startsWith('data:')) {
    const parsed = parseBase64DataUrl(url);
    if (!parsed)
      throw new UnifiedError(
        'invalid_request',
        'Image data URLs must be base64-encoded (data:<type>;base64,<data>).',
        param,
      );
    if (!IMAGE_MEDIA_TYPES.has(parsed.mediaType)) {
      throw new UnifiedError(
        'invalid_request',
        `Image type '${parsed.mediaType}' is not supported by this model's provider (Anthropic accepts image/jpeg, image/png, image/gif and image/webp).`,
        param,
      );
    }
    return {
      type: 'image',
      source: { type: 'base64', media_type: parsed.mediaType as AnthropicImageMediaType, data: parsed.data },
    };
  }
  // Anthropic fetches http(s) images itself (a `url` source); the gateway never downloads client-supplied URLs.
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new UnifiedError('invalid_request', 'Image URLs must be http(s) URLs or base64 data URLs.', param);
}

function documentBlock(file: Record<string, unknown>, param: string): AnthropicDocumentBlock {
  const data = typeof file.file_data === 'string' ? parseBase64DataUrl(file.file_data) : undefined;
  if (!data) {
    const what = typeof file.file_id === 'string' ? 'OpenAI file ids' : 'files without base64 file_data';
    throw new UnifiedError(
      'invalid_request',
      `This model's provider (Anthropic) cannot read ${what}; send the file inline as a base64 data URL.`,
      param,
    );
  }
  if (data.mediaType !== 'application/pdf') {
    throw new UnifiedError(
      'invalid_request',
      `File type '${data.mediaType}' is not supported by this model's provider (Anthropic reads PDF files).`,
      param,
    );
  }
  const block: AnthropicDocumentBlock = {
    type: 'document',
    source: { type: 'base64', media_type: 'application/pdf', data: data.data },
  };
  if (typeof file.filename === 'string' && file.filename) block.title = file.filename;
  return block;
}

type UserPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } }
  | { type: 'input_audio' }
  | { type: 'file'; file: Record<string, unknown> };

export function userBlocks(content: string | ReadonlyArray<UserPart>, param: string): AnthropicUserBlock[] {
  if (typeof content === 'string') return textBlocks(content);
  const blocks: AnthropicUserBlock[] = [];
  content.forEach((part, i) => {
    const partParam = `${param}[${i}]`;
    switch (part.type) {
      case 'text':
        if (hasText(part.text)) blocks.push({ type: 'text', text: part.text });
        break;
      case 'image_url':
        // `detail` has no Anthropic equivalent (Anthropic sizes images itself); it is dropped.
        blocks.push(imageBlock(part.image_url.url, `${partParam}.image_url.url`));
        break;
      case 'file':
        blocks.push(documentBlock(part.file, `${partParam}.file`));
        break;
      case 'input_audio':
        throw new UnifiedError(
          'invalid_request',
          "Audio input is not supported by this model's provider (Anthropic).",
          partParam,
        );
    }
  });
  return blocks;
}
