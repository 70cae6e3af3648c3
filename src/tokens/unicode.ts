// Letters, marks and numbers added in Unicode 17.0, as a regex class body (flag u or v). Node 20.20's regex engine
// (ICU 78) knows them; tiktoken's Rust regex (Unicode 16) sees them as unassigned, which changes how o200k_base
// splits text around them. The ranges are every code point where the two disagreed in a scan of all code points
// against tiktoken 1.0.22 (backend.ts excludes them; exactness.test.ts re-checks every letter, mark and number).
export const UNICODE_17_LMN = [
  String.raw`\u{88F}\u{C5C}\u{CDC}\u{1ACF}-\u{1ADD}\u{1AE0}-\u{1AEB}\u{A7CE}\u{A7CF}\u{A7D2}\u{A7D4}\u{A7F1}`,
  String.raw`\u{10940}-\u{10959}\u{10EC5}-\u{10EC7}\u{10EFA}\u{10EFB}\u{11B60}-\u{11B67}\u{11DB0}-\u{11DDB}`,
  String.raw`\u{11DE0}-\u{11DE9}\u{16EA0}-\u{16EB8}\u{16EBB}-\u{16ED3}\u{16FF2}-\u{16FF6}\u{187F8}-\u{187FF}`,
  String.raw`\u{18D09}-\u{18D1E}\u{18D80}-\u{18DF2}\u{1E6C0}-\u{1E6DE}\u{1E6E0}-\u{1E6F5}\u{1E6FE}\u{1E6FF}`,
  String.raw`\u{2B73A}-\u{2B73F}\u{2CEA2}-\u{2CEAD}\u{323B0}-\u{33479}`,
].join('');
