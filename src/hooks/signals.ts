// Who handles keyrot's signals. Normally main.ts: the first SIGINT/SIGTERM cancels the command, a second exits at
// once. While keyrot exec runs a command, that command gets them instead (hooks/exec.ts passes them on) and keyrot
// ends with its status. Kept apart from exec.ts so the entry point loads nothing else for it.

let forwarding = 0;

/** True while keyrot exec runs a command that receives keyrot's signals. */
export function signalsForwarded(): boolean {
  return forwarding > 0;
}

/** Marks the start of a forwarding period; the returned function ends it. */
export function startForwarding(): () => void {
  forwarding++;
  let ended = false;
  return () => {
    if (!ended) forwarding--;
    ended = true;
  };
}
