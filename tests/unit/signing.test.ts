import { createTokenSigner } from '../../src/platform/signing.js';

describe('token signing', () => {
  const signer = createTokenSigner('s'.repeat(40), 'unsubscribe');

  it('round-trips a payload', () => {
    expect(signer.verify(signer.sign('lead:0b9c4bde'))).toBe('lead:0b9c4bde');
  });

  it.each([
    ['an altered payload', (token: string) => `${Buffer.from('lead:other').toString('base64url')}.${token.split('.')[1]}`],
    ['an altered signature', (token: string) => `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`],
    ['a truncated token', (token: string) => token.split('.')[0] ?? ''],
    ['extra parts', (token: string) => `${token}.x`],
    ['garbage', () => 'not-a-token'],
  ])('refuses %s', (_name, mangle) => {
    expect(signer.verify(mangle(signer.sign('lead:0b9c4bde')))).toBeNull();
  });

  /*
   * Each spelling below decodes to the same bytes as the real token (Node's decoder ignores spare
   * bits, padding and characters outside the alphabet), so only an exact comparison refuses it.
   */
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const spareBitsSibling = (token: string) => {
    // 16 signature bytes take 22 characters: the last one carries 2 bits and 4 spare ones.
    const index = ALPHABET.indexOf(token.at(-1) ?? 'A');
    return `${token.slice(0, -1)}${ALPHABET[index ^ 1] ?? ''}`;
  };

  it.each([
    ['the last character changed in its unused bits', spareBitsSibling],
    ['padding appended', (token: string) => `${token}==`],
    ['padding on the payload', (token: string) => token.replace('.', '=.')],
    ['a stray character in the payload', (token: string) => `${token.slice(0, 5)}*${token.slice(5)}`],
    ['a stray character in the signature', (token: string) => `${token.slice(0, -3)}*${token.slice(-3)}`],
    ['surrounding whitespace', (token: string) => ` ${token}\n`],
  ])('refuses a non-canonical spelling: %s', (_name, respell) => {
    const token = signer.sign('lead:0b9c4bde');
    const variant = respell(token);
    const signatureOf = (text: string) => Buffer.from(text.split('.')[1] ?? '', 'base64url');
    expect(variant).not.toBe(token);
    expect(signatureOf(variant).equals(signatureOf(token))).toBe(true);
    expect(signer.verify(variant)).toBeNull();
  });

  it('refuses standard base64 in place of base64url', () => {
    const payload = Array.from({ length: 200 }, (_, i) => `lead:${i}`).find((text) => /[-_]/.test(signer.sign(text)));
    const token = signer.sign(payload ?? '');
    expect(signer.verify(token)).toBe(payload);
    expect(signer.verify(token.replaceAll('-', '+').replaceAll('_', '/'))).toBeNull();
  });

  it('keeps purposes and secrets apart', () => {
    const token = signer.sign('lead:1');
    expect(createTokenSigner('s'.repeat(40), 'click').verify(token)).toBeNull();
    expect(createTokenSigner('t'.repeat(40), 'unsubscribe').verify(token)).toBeNull();
  });

  it('verifies links signed with the previous secret during a rotation, and signs only with the new one', () => {
    const oldSecret = 's'.repeat(40);
    const newSecret = 'n'.repeat(40);
    const before = createTokenSigner(oldSecret, 'unsubscribe').sign('lead:7');
    const rotating = createTokenSigner(newSecret, 'unsubscribe', [oldSecret]);
    expect(rotating.verify(before)).toBe('lead:7');
    expect(rotating.sign('lead:7')).toBe(createTokenSigner(newSecret, 'unsubscribe').sign('lead:7'));
    // Once the previous secret is dropped, its links stop verifying; another purpose never did.
    expect(createTokenSigner(newSecret, 'unsubscribe').verify(before)).toBeNull();
    expect(createTokenSigner(newSecret, 'click', [oldSecret]).verify(before)).toBeNull();
  });
});
