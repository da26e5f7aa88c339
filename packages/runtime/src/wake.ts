/**
 * Waits until the function handed to `register` is called or the signal aborts. The abort listener goes when woken,
 * so a watch loop that waits many times on one call's signal does not pile listeners up on it.
 */
export function waitForWake(signal: AbortSignal | undefined, register: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const woken = () => {
      signal?.removeEventListener("abort", woken);
      resolve();
    };
    register(woken);
    signal?.addEventListener("abort", woken, { once: true });
  });
}
