// Types for bin/code-cache.js (plain CommonJS: it runs before any build).
export declare const BUILD_ID_MARK: string;
export declare function wrap(source: string): string;
export declare function cacheHeader(source: string): Buffer;
export declare function userCacheFile(bundle: string, command: string | undefined, env: NodeJS.ProcessEnv): { dir: string; file: string } | null;
export declare function loadBundle(
  bundle: string,
  command: string | undefined,
  env: NodeJS.ProcessEnv,
): { exports: { main(argv: string[]): Promise<number>; restoreV8Defaults?(): void }; keep(code: number): void };
