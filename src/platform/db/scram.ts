import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as PostgreSQL speaks it, for the
 * embedded database's loopback socket. The password never crosses the socket, and the socket
 * never learns enough to replay it. Pure: the multiplexer frames the messages.
 */

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
const ITERATIONS = 4096; // PostgreSQL's default scram_iterations

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** What the server keeps instead of the password, computed once (PBKDF2 is slow on purpose). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): ScramVerifier {
  // Generated passwords are ASCII, for which SASLprep changes nothing.
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return { salt, iterations, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

export interface ScramState {
  gs2Header: string;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
}

export type ScramFirst = { ok: true; serverFirst: string; state: ScramState } | { ok: false; reason: string };
export type ScramFinal = { ok: true; serverFinal: string } | { ok: false; reason: string };

/** Answers the client-first-message ("n,,n=user,r=nonce") with the salt, count and full nonce. */
export function answerClientFirst(message: string, verifier: ScramVerifier, serverNonce = randomBytes(18).toString('base64')): ScramFirst {
  // gs2 header: "n" (no channel binding) or "y" (client could, thinks we cannot); "p=" is refused
  // because channel binding needs TLS, which a loopback socket does not have.
  const match = /^([ny]),(a=[^,]*)?,(n=[^,]*,r=([\x21-\x2b\x2d-\x7e]+)(,.*)?)$/.exec(message);
  if (!match?.[1] || !match[3] || !match[4]) return { ok: false, reason: 'malformed SCRAM client-first-message' };
  const nonce = `${match[4]}${serverNonce}`;
  const serverFirst = `r=${nonce},s=${verifier.salt.toString('base64')},i=${verifier.iterations}`;
  return { ok: true, serverFirst, state: { gs2Header: `${match[1]},${match[2] ?? ''},`, clientFirstBare: match[3], serverFirst, nonce } };
}

/** Checks the client's proof; the server signature in the answer proves we knew the password too. */
export function answerClientFinal(message: string, state: ScramState, verifier: ScramVerifier): ScramFinal {
  const match = /^(c=([A-Za-z0-9+/=]+),r=([^,]+)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(message);
  if (!match?.[1] || !match[2] || !match[3] || !match[4]) return { ok: false, reason: 'malformed SCRAM client-final-message' };
  if (match[2] !== Buffer.from(state.gs2Header).toString('base64')) return { ok: false, reason: 'SCRAM channel binding does not match' };
  if (match[3] !== state.nonce) return { ok: false, reason: 'SCRAM nonce does not match' };
  const authMessage = `${state.clientFirstBare},${state.serverFirst},${match[1]}`;
  const proof = Buffer.from(match[4], 'base64');
  const signature = hmac(verifier.storedKey, authMessage);
  if (proof.length !== signature.length) return { ok: false, reason: 'wrong password' };
  const clientKey = Buffer.from(proof.map((byte, index) => byte ^ (signature[index] ?? 0)));
  if (!timingSafeEqual(sha256(clientKey), verifier.storedKey)) return { ok: false, reason: 'wrong password' };
  return { ok: true, serverFinal: `v=${hmac(verifier.serverKey, authMessage).toString('base64')}` };
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
