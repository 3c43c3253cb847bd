import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/*
 * DKIM_PRIVATE_KEY as people actually paste it. Nodemailer signs with any string it is given and,
 * when the key cannot sign, sends the message unsigned without a word, so every such email fails
 * DMARC. Baton reads the key once at start and refuses one it cannot sign with.
 *
 * Accepted: a PEM private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY") with real line
 * breaks, or on one line with its line breaks written as `\n` (the usual form in .env files and
 * container secrets), optionally wrapped in one pair of quotes that an env file kept.
 */

export type DkimKeyReading = { ok: true; pem: string; bits: number; publicKeyBase64: string } | { ok: false; problem: string };

/** RFC 8301: verifiers must not accept RSA keys under 1024 bits, and they fail DMARC. */
const MIN_BITS = 1024;

const ONE_LINE_ADVICE =
  'paste the whole PEM file, from -----BEGIN PRIVATE KEY----- (or -----BEGIN RSA PRIVATE KEY-----) to its END line; on one line (.env files, container secrets) write each line break as \\n';

export function readDkimPrivateKey(value: string): DkimKeyReading {
  const text = unescapeLineBreaks(unquote(value.trim()));
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text))
    return { ok: false, problem: 'is a public key: DKIM_PRIVATE_KEY takes the private key (the public one goes in the DNS record)' };
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text))
    return { ok: false, problem: 'is encrypted with a passphrase: decrypt it first (openssl pkey -in key.pem -out dkim.pem)' };
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]+-----END (RSA )?PRIVATE KEY-----/.test(text))
    return { ok: false, problem: `is not a PEM private key: ${ONE_LINE_ADVICE}` };
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    return { ok: false, problem: `cannot be read as a private key (${(error as Error).message}): ${ONE_LINE_ADVICE}` };
  }
  if (key.asymmetricKeyType !== 'rsa')
    return {
      ok: false,
      problem: `is an ${key.asymmetricKeyType ?? 'unknown'} key: Baton signs DKIM with RSA (rsa-sha256); generate one with openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`,
    };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_BITS) return { ok: false, problem: `is a ${bits}-bit RSA key: receivers ignore DKIM keys under ${MIN_BITS} bits (RFC 8301); use 2048` };
  return {
    ok: true,
    pem: String(key.export({ type: 'pkcs8', format: 'pem' })),
    bits,
    publicKeyBase64: createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

function unquote(text: string): string {
  const match = /^(["'])([\s\S]*)\1$/.exec(text);
  return match ? (match[2] ?? '') : text;
}

/** `\n` (and `\r\n`) written as two characters become line breaks; a PEM has no backslash of its own. */
function unescapeLineBreaks(text: string): string {
  return text.includes('\\') ? text.replace(/\\r\\n|\\n|\\r/g, '\n') : text;
}
