// Tool-call ids. Gemini's function calls usually have no id (results are matched by name and order), so the
// gateway makes one per call: deterministic for a given response, unique across a conversation through the
// response id. Gemini 3 also signs function calls and rejects a later turn whose calls lost their signature;
// the only stateless place to keep it is the id the client echoes back, so it rides there, base64url-encoded
// so the id stays within [A-Za-z0-9_-] (ids may travel to other providers on failover).

const SIGNATURE_MARK = '__sig_';

function base64ToUrl(value: string): string {
  return value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function urlToBase64(value: string): string {
  const standard = value.replace(/-/g, '+').replace(/_/g, '/');
  return standard + '='.repeat((4 - (standard.length % 4)) % 4);
}

/**
 * `call_<candidate>_<n>[_<responseId>]`, or the provider's own id when it sent one; then the signature, if any.
 * Only letters and digits of the response id are kept so the signature mark cannot occur before the signature.
 */
export function toolCallId(options: {
  providerId: string | undefined;
  responseId: string | undefined;
  candidate: number;
  ordinal: number;
  signature: string | undefined;
}): string {
  const rid = options.responseId?.replace(/[^A-Za-z0-9]/g, '');
  const base = options.providerId || `call_${options.candidate}_${options.ordinal}${rid ? `_${rid}` : ''}`;
  return options.signature ? `${base}${SIGNATURE_MARK}${base64ToUrl(options.signature)}` : base;
}

/** The thought signature carried by an id this gateway made, if any. */
export function signatureFromToolCallId(id: string): string | undefined {
  const at = id.indexOf(SIGNATURE_MARK);
  if (at === -1) return undefined;
  const encoded = id.slice(at + SIGNATURE_MARK.length);
  return encoded ? urlToBase64(encoded) : undefined;
}
