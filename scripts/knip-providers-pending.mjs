// knip preprocessor (knip.json "preprocessor"): findings under src/providers/ are still printed, dimmed as warnings,
// but do not fail `npm run lint:unused` while that folder is restructured on its own branch (issue 10, items 1-4 and
// 6). Once that work is merged and knip finds nothing there, delete this file and the "preprocessor" line.
import path from 'node:path';

const PENDING = `src${path.sep}providers${path.sep}`;

/** @param {import('knip').ReporterOptions} data */
export default function providersPending(data) {
  for (const [type, byFile] of Object.entries(data.issues)) {
    for (const [file, symbols] of Object.entries(byFile)) {
      if (!path.relative(data.cwd, file).startsWith(PENDING)) continue;
      for (const issue of Object.values(symbols)) {
        if (issue.severity === 'warn') continue;
        issue.severity = 'warn';
        data.counters[type] -= 1;
      }
    }
  }
  return data;
}
