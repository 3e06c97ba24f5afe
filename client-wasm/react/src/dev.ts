// Development-only console lines, like the client's (`isDevelopment` in @roomsync/client's
// driver): the build's mode is the bundler's.

declare const process: { env: { NODE_ENV?: string } };

/** Whether this is a development build: `import.meta.env.MODE` (Vite) or
 *  `process.env.NODE_ENV` (webpack, Next.js) other than "production". Neither — plain ESM in
 *  a browser — reads as production: silent. */
export const DEV: boolean = (() => {
  try {
    return ((import.meta as { env?: { MODE?: string } }).env?.MODE ?? process.env.NODE_ENV) !== "production";
  } catch {
    return false;
  }
})();

/** A development-only warning. */
export function say(message: string, ...rest: unknown[]): void {
  if (DEV) console.warn(`roomsync: ${message}`, ...rest);
}
