// A certificate's SHA-256 fingerprint as Cordon shows, pins and compares it: 32 uppercase hex pairs joined by colons,
// the form of Node's X509Certificate.fingerprint256 and of `openssl x509 -noout -fingerprint -sha256`.

/** A fingerprint as typed or pasted (any case; colons, spaces or none; an optional "SHA256:" label), or undefined. */
export function normaliseFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^sha-?256\s*(fingerprint)?\s*[=:]?\s*/i, '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
