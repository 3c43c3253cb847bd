import { answerClientFinal, answerClientFirst, scramVerifier } from '../../src/platform/db/scram.js';

/* The server side of SCRAM-SHA-256 against the exchange published in RFC 7677, section 3. */
describe('SCRAM-SHA-256 (server side)', () => {
  const verifier = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverNonce = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const clientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';

  it('answers the RFC 7677 exchange with its server-first and server-final messages', () => {
    const first = answerClientFirst(clientFirst, verifier, serverNonce);
    expect(first).toMatchObject({ ok: true, serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096' });
    if (!first.ok) return;
    expect(answerClientFinal(clientFinal, first.state, verifier)).toEqual({ ok: true, serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' });
  });

  it.each([
    ['a proof made with another password', clientFinal.replace('p=dHzb', 'p=eHzb'), 'wrong password'],
    ['a nonce other than the one agreed', clientFinal.replace('k0,p=', 'k1,p='), 'SCRAM nonce does not match'],
    ['channel binding data that was not announced', clientFinal.replace('c=biws', 'c=eSws'), 'SCRAM channel binding does not match'],
    ['a message without a proof', 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', 'malformed SCRAM client-final-message'],
  ])('refuses %s', (_name, final, reason) => {
    const first = answerClientFirst(clientFirst, verifier, serverNonce);
    if (!first.ok) throw new Error('client-first refused');
    expect(answerClientFinal(final, first.state, verifier)).toEqual({ ok: false, reason });
  });

  it.each([
    ['channel binding, which needs TLS', 'p=tls-server-end-point,,n=,r=abc'],
    ['no nonce', 'n,,n=user'],
    ['garbage', 'hello'],
  ])('refuses a client-first-message with %s', (_name, message) => {
    expect(answerClientFirst(message, verifier)).toEqual({ ok: false, reason: 'malformed SCRAM client-first-message' });
  });
});
