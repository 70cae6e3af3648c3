import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageSizeFromDataUrl, imageTokens, tileCostsFor, tiledTokens } from './images.js';

const COSTS = { base: 85, tile: 170 };

function dataUrl(mime: string, bytes: Buffer): string {
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

function png(width: number, height: number): Buffer {
  const b = Buffer.alloc(40);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(b);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

test("OpenAI's worked examples of the tile formula", () => {
  assert.equal(tiledTokens({ width: 1024, height: 1024 }, COSTS), 765);
  assert.equal(tiledTokens({ width: 2048, height: 4096 }, COSTS), 1105);
  assert.equal(tiledTokens({ width: 512, height: 512 }, COSTS), 255);
  assert.equal(tiledTokens({ width: 513, height: 500 }, COSTS), 425);
  assert.equal(tiledTokens({ width: 2048, height: 768 }, COSTS), 1445); // the maximum
  assert.equal(tiledTokens({ width: 20_000, height: 20_000 }, COSTS), 765);
  assert.equal(tiledTokens({ width: 0, height: 10 }, COSTS), 85);
});

test('detail low is the base cost; auto and high use the size; unknown size assumes 1024×1024', () => {
  const url = dataUrl('image/png', png(4096, 8192));
  assert.deepEqual(imageTokens(url, 'low', COSTS), { tokens: 85, sized: true });
  assert.deepEqual(imageTokens(url, 'high', COSTS), { tokens: 1105, sized: true });
  assert.deepEqual(imageTokens(url, 'auto', COSTS), { tokens: 1105, sized: true });
  assert.deepEqual(imageTokens(url, undefined, COSTS), { tokens: 1105, sized: true });
  assert.deepEqual(imageTokens('https://example.com/x.png', 'high', COSTS), { tokens: 765, sized: false });
  assert.deepEqual(imageTokens('data:image/png;base64,!!!!', 'high', COSTS), { tokens: 765, sized: false });
});

test('gpt-4o-mini and its snapshots use 2833/5667', () => {
  for (const model of ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18', 'ft:gpt-4o-mini-2024-07-18:org::x']) {
    assert.deepEqual(tileCostsFor(model), { base: 2833, tile: 5667 }, model);
  }
  for (const model of ['gpt-4o', 'gpt-4o-mini-audio-preview', 'gpt-4.1', 'claude-sonnet-4-5'])
    assert.deepEqual(tileCostsFor(model), COSTS, model);
});

test('sizes from PNG, GIF, WebP (VP8, VP8L, VP8X) and JPEG headers', () => {
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/png', png(640, 480))), { width: 640, height: 480 });

  const gif = Buffer.alloc(16);
  gif.write('GIF89a', 0, 'latin1');
  gif.writeUInt16LE(320, 6);
  gif.writeUInt16LE(200, 8);
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/gif', gif)), { width: 320, height: 200 });

  const riff = (chunk: string, fill: (b: Buffer) => void): Buffer => {
    const b = Buffer.alloc(40);
    b.write('RIFF', 0, 'latin1');
    b.write('WEBP', 8, 'latin1');
    b.write(chunk, 12, 'latin1');
    fill(b);
    return b;
  };
  const vp8 = riff('VP8 ', (b) => {
    b.writeUInt16LE(800, 26);
    b.writeUInt16LE(600, 28);
  });
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/webp', vp8)), { width: 800, height: 600 });
  const vp8l = riff('VP8L', (b) => b.writeUInt32LE((1000 - 1) | ((700 - 1) << 14), 21));
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/webp', vp8l)), { width: 1000, height: 700 });
  const vp8x = riff('VP8X', (b) => {
    b.writeUIntLE(3000 - 1, 24, 3);
    b.writeUIntLE(2000 - 1, 27, 3);
  });
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/webp', vp8x)), { width: 3000, height: 2000 });

  // SOI, an APP0 segment, then SOF0 with height 1080 and width 1920.
  const jpeg = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
    0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x04, 0x38, 0x07, 0x80, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
    0x01,
  ]);
  assert.deepEqual(imageSizeFromDataUrl(dataUrl('image/jpeg', jpeg)), { width: 1920, height: 1080 });
});

test('not a base64 data URL, or not an image we know: no size', () => {
  assert.equal(imageSizeFromDataUrl('https://example.com/a.png'), undefined);
  assert.equal(imageSizeFromDataUrl('data:image/svg+xml,<svg/>'), undefined);
  assert.equal(imageSizeFromDataUrl(dataUrl('image/png', Buffer.from('not an image at all, really'))), undefined);
  assert.equal(
    imageSizeFromDataUrl(dataUrl('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 4, 0, 0, 0, 0, 0, 0]))),
    undefined,
  );
});
