// keyrot profiles: the accounts of the profiles file, with what each resolves to.
import type { Context } from '../cli/context.js';
import { DEFAULT_PROFILE } from '../core/profiles.js';
import { getProviderFactory } from '../providers/registry.js';
import { printTable } from '../ui/table.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export interface ProfilesResult {
  file: string;
  current: string;
  profiles: Array<{ name: string; provider: string; apiUrl: string; current: boolean }>;
}

export const profilesCommand: CommandModule<Record<string, never>, ProfilesResult> = {
  async run(_options, ctx: Context) {
    const names = new Set([DEFAULT_PROFILE, ...ctx.profiles.keys()]);
    const profiles = [...names].map((name) => {
      const p = ctx.profiles.get(name);
      const provider = getProviderFactory(p?.provider ?? 'vultr');
      return { name, provider: provider.id, apiUrl: p?.apiUrl ?? provider.defaultBaseUrl, current: name === ctx.profile };
    });
    return { file: ctx.profilesFile, current: ctx.profile, profiles };
  },
  render(r, ctx) {
    printTable(ctx.out, r.profiles, [
      { header: '', value: (p) => (p.current ? '*' : ''), keep: true },
      { header: 'PROFILE', value: (p) => p.name, keep: true },
      { header: 'PROVIDER', value: (p) => p.provider },
      { header: 'API URL', value: (p) => p.apiUrl },
    ]);
    ctx.out.info(say`From ${displayText(r.file)}; * is in force (--profile, KEYROT_PROFILE, else default). Flags and the environment override a profile's settings.`);
  },
};
