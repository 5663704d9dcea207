/**
 * The error a synchronous call throws, checked to be of the expected class: for specs of code that throws typed
 * errors (the callback crypto).
 */
export function caughtOf<E extends Error>(type: abstract new (...args: never[]) => E): (fn: () => unknown) => E {
  return (fn) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(type);
      return error as E;
    }
    throw new Error(`expected a ${type.name}`);
  };
}
