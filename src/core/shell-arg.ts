// Values in the commands keyrot prints for people to paste (an e-mail from the provider, a folder): quoted for a
// POSIX shell when they hold anything but plain characters, so pasting one runs keyrot and nothing else. An
// e-mail may lawfully hold `&`, `$`, `{`, `}` or a backquote.

const PLAIN = /^[A-Za-z0-9@%+=:,./_-]+$/;

export function shellArg(value: string): string {
  return PLAIN.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
