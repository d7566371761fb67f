// Issue 17's "one endpoint, one identity" (core/base-url.ts validateBaseUrl, providers/registry.ts
// fileProviderId): a host with its trailing dot (`api.example.com.`, the fully qualified spelling, which DNS resolves
// to the same address and HTTPS servers answer alike) is kept by WHATWG URL (and was by canonicalUrl, giving one endpoint
// two provider identities: two sets of keychain entries, two journal names and two user locks). A rotation begun with
// one spelling is invisible to a run with the other, which may rotate the same user at the same time. Either
// spelling must give one identity, or the dotted one be refused as a usage error.
import { describe, expect, it } from 'vitest';
import { validateBaseUrl } from '../../src/core/base-url.js';
import { fileProviderId } from '../../src/providers/registry.js';

function identity(baseUrl: string): string {
  return fileProviderId({ id: 'myplatform', baseUrl: validateBaseUrl(baseUrl, 'MYPLATFORM_API_URL') });
}

describe('a base URL whose host ends with a dot', () => {
  for (const [dotted, plain] of [
    ['https://api.example.com./v2', 'https://api.example.com/v2'],
    ['https://API.Example.COM.:443/v2/', 'https://api.example.com/v2'],
  ] as const) {
    it(`${dotted} names the same provider as ${plain}, or is refused`, () => {
      let dottedId: string;
      try {
        dottedId = identity(dotted);
      } catch (err) {
        expect((err as Error).name).toMatch(/UsageError/);
        return;
      }
      // Before the fix: myplatform.<hash of the dotted spelling> beside myplatform.<hash of the plain one>.
      expect(dottedId).toBe(identity(plain));
    });
  }
});
