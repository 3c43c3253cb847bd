/** The default of an exhaustive switch: the compiler refuses a call with a case left unhandled. */
export function assertUnreachable(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
