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

  it('keeps purposes and secrets apart', () => {
    const token = signer.sign('lead:1');
    expect(createTokenSigner('s'.repeat(40), 'click').verify(token)).toBeNull();
    expect(createTokenSigner('t'.repeat(40), 'unsubscribe').verify(token)).toBeNull();
  });
});
