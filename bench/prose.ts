// Deterministic English-like prose for the token benchmarks (bench/tokens.ts) and the prompt-size scenarios.
import { mulberry32 } from '../src/testing/random.js';

// Deterministic English-like prose: Zipf-weighted common words, sentence case, punctuation, numbers, and 2% rare
// words built from syllables (multi-token pieces that exercise BPE and the merge cache). o200k_base gives ~4.5
// characters per token on it, like real English (the GPL-3 text: 4.8).
const COMMON = (
  'the of and to a in is that for it as was with be by on not he I this are or his from at which but have an they ' +
  'you were her she there one all we their been has would when if will more no out so said what up its about ' +
  'into than them can only other new some could time these two may then do first any my now such like our over ' +
  'man me even most made after also did many before must through back years where much your way well down should ' +
  'because each just those people how too little state good very make world still own see men work long get here ' +
  'between both life being under never day same another know while last might us great old year off come since ' +
  'against go came right used take three states himself few house use during without again place American around ' +
  'however home small found Mrs thought went say part once general high upon school every number does something ' +
  'system program government often development question nothing information report result increase process ' +
  'request model service gateway budget token limit provider response network policy cluster performance ' +
  'measure evidence decision history community problem business important public possible different market ' +
  'experience understanding especially particular political economic national international environment ' +
  'education financial available following including therefore although approach analysis research century ' +
  'children interest president security individual practice situation relationship organization knowledge ' +
  'position national technology everything certainly yesterday tomorrow together already actually probably ' +
  'building language picture economy country support several whether across toward product reason control ' +
  'service society interest product industry culture natural special private current central original simple ' +
  'strong recent significant personal traditional professional responsibility opportunity management ' +
  'difference community experience conversation morning evening question surface material structure'
).split(' ');
const SYLLABLES = 'ka lo mi ter ven sul dra po nex qui tar bel orn isk ump zel fra gon lum pre tis vor wex yal'.split(
  ' ',
);

export function generateProse(bytes: number, seed: number): string {
  const random = mulberry32(seed);
  const weights = COMMON.map((_, rank) => 1 / (rank + 12));
  const cumulative: number[] = [];
  let sum = 0;
  for (const weight of weights) cumulative.push((sum += weight));
  const pickCommon = (): string => {
    const target = random() * sum;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] ?? 0) < target) lo = mid + 1;
      else hi = mid;
    }
    return COMMON[lo] ?? 'the';
  };
  const rareWord = (): string => {
    let word = '';
    const n = 2 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)] ?? 'ka';
    return word;
  };
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const sentences = 3 + Math.floor(random() * 5);
    const paragraph: string[] = [];
    for (let s = 0; s < sentences; s++) {
      const length = 8 + Math.floor(random() * 18);
      const words: string[] = [];
      for (let w = 0; w < length; w++) {
        const r = random();
        let word =
          r < 0.02
            ? rareWord()
            : r < 0.026
              ? String(Math.floor(random() * (random() < 0.5 ? 100 : 3000)))
              : pickCommon();
        if (r < 0.02 && random() < 0.3) word = word.charAt(0).toUpperCase() + word.slice(1);
        if (w > 0 && w < length - 1 && random() < 0.07) word += ',';
        words.push(word);
      }
      const first = words[0] ?? 'The';
      words[0] = first.charAt(0).toUpperCase() + first.slice(1);
      const end = random();
      paragraph.push(words.join(' ') + (end < 0.05 ? '?' : end < 0.07 ? '!' : '.'));
    }
    const text = paragraph.join(' ');
    parts.push(text);
    size += text.length + 2;
  }
  return parts.join('\n\n').slice(0, bytes);
}
