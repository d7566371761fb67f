import type { Context } from '../cli/context.js';
import type { User } from '../providers/types.js';
import { printTable } from '../ui/table.js';
import type { CommandModule } from './types.js';
import { say } from '../ui/display-text.js';

export type ListUsersOptions = Record<string, never>;

export interface ListUsersResult {
  users: User[];
}

export const listUsersCommand: CommandModule<ListUsersOptions, ListUsersResult> = {
  async run(_options, ctx: Context) {
    const provider = await ctx.provider();
    return { users: await provider.listUsers() };
  },
  render({ users }, ctx) {
    printTable(ctx.out, users, [
      { header: 'ID', value: (u) => u.id, id: true },
      { header: 'EMAIL', value: (u) => u.email, key: true },
      { header: 'NAME', value: (u) => u.name },
      { header: 'API', value: (u) => (u.apiEnabled ? 'yes' : 'no') },
      { header: 'SERVICE', value: (u) => (u.serviceUser ? 'yes' : 'no'), compact: { header: 'SVC', value: (u) => (u.serviceUser ? 'yes' : 'no') } },
      {
        header: 'LAST ACTIVITY',
        value: (u) => (u.lastActivity ? u.lastActivity.toISOString().replace('.000Z', 'Z') : 'none'),
        compact: { header: 'ACTIVE', value: (u) => (u.lastActivity ? u.lastActivity.toISOString().slice(0, 10) : 'none') },
      },
    ]);
    ctx.out.info(say`${users.length} user${users.length === 1 ? say`` : say`s`}`);
  },
  toJson: ({ users }) => users.map(userJson),
};

export function userJson(u: User): Record<string, unknown> {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    apiEnabled: u.apiEnabled,
    serviceUser: u.serviceUser,
    acls: u.acls,
    lastActivity: u.lastActivity?.toISOString() ?? null,
  };
}
