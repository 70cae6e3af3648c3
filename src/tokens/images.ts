// Image parts. Policy: OpenAI's published tile formula (platform.openai.com/docs/guides/vision, "Calculating
// costs"): `detail: "low"` costs the base tokens; otherwise the image is scaled to fit a 2048×2048 square, then
// down so its shortest side is at most 768 px, and each 512 px tile costs the tile tokens, plus the base once.
// Base/tile are 85/170 (gpt-4o, gpt-4.1, gpt-4.5, gpt-4-turbo); gpt-4o-mini reports 2833/5667. `auto` is treated as
// `high` (the larger of the two). The dimensions are read from the header of a base64 data: URL (PNG, JPEG, GIF,
// WebP); an http(s) URL is not fetched and counts as a 1024×1024 image (765 tokens at 85/170; the formula's maximum
// is 1445, for e.g. 2048×768). OpenAI documents other schemes for some models (32 px patches with a multiplier for
// gpt-4.1-mini/-nano and o4-mini, other constants for o1/o3 and gpt-5), so image counts are always reported as
// approximate.

export interface TileCosts {
  readonly base: number;
  readonly tile: number;
}

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export interface ImageCount {
  readonly tokens: number;
  /** False when the dimensions were not known and a 1024×1024 image was assumed. */
  readonly sized: boolean;
}

const DEFAULT_COSTS: TileCosts = { base: 85, tile: 170 };
const GPT_4O_MINI_COSTS: TileCosts = { base: 2833, tile: 5667 };
const ASSUMED_SIZE: ImageSize = { width: 1024, height: 1024 };

export function tileCostsFor(model: string): TileCosts {
  // gpt-4o-mini and its snapshots (gpt-4o-mini-2024-07-18, ft:gpt-4o-mini-…), not gpt-4o-mini-audio-preview etc.
  return /(?:^|[/.:])gpt-4o-mini(?!-[a-z])/.test(model) ? GPT_4O_MINI_COSTS : DEFAULT_COSTS;
}

/** Tokens of one image part. */
export function imageTokens(url: string, detail: string | undefined, costs: TileCosts): ImageCount {
  if (detail === 'low') return { tokens: costs.base, sized: true };
  const size = imageSizeFromDataUrl(url);
  return { tokens: tiledTokens(size ?? ASSUMED_SIZE, costs), sized: size !== undefined };
}

/** The high-detail tile formula. */
export function tiledTokens(size: ImageSize, costs: TileCosts): number {
  let { width, height } = size;
  if (width <= 0 || height <= 0) return costs.base;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const shrink = Math.min(1, 768 / Math.min(width, height));
  width *= shrink;
  height *= shrink;
  const tiles = Math.ceil(Math.floor(width) / 512) * Math.ceil(Math.floor(height) / 512);
  return costs.base + costs.tile * Math.max(1, tiles);
}

// A JPEG's SOF marker may follow large EXIF/ICC segments; look at most this far into the decoded bytes.
const MAX_HEADER_BYTES = 256 * 1024;

/** Width and height from a `data:image/…;base64,` URL's header bytes, or undefined. */
export function imageSizeFromDataUrl(url: string): ImageSize | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || !url.slice(0, comma).endsWith(';base64')) return undefined;
  const start = comma + 1;
  const take = Math.min(url.length - start, Math.ceil(MAX_HEADER_BYTES / 3) * 4);
  const bytes = Buffer.from(url.slice(start, start + take - (take % 4)), 'base64');
  return pngSize(bytes) ?? gifSize(bytes) ?? webpSize(bytes) ?? jpegSize(bytes);
}

function pngSize(b: Buffer): ImageSize | undefined {
  // signature, IHDR length, "IHDR", width, height (big-endian)
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

function gifSize(b: Buffer): ImageSize | undefined {
  if (b.length < 10 || b.toString('latin1', 0, 3) !== 'GIF') return undefined;
  return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
}

function webpSize(b: Buffer): ImageSize | undefined {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP')
    return undefined;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  return undefined;
}

function jpegSize(b: Buffer): ImageSize | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] ?? 0;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
    }
    if (marker === 0xda || length < 2) return undefined; // start of scan before any SOF
    i += 2 + length;
  }
  return undefined;
}
