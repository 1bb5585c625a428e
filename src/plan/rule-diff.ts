/**
 * tm3's part of `iptables -S`: the policies, tm3's chains and every rule tm3 wrote (they all carry
 * the comment tm3). The ADMIN SECTION's and Fail2Ban's rules are made again by iptables-custom
 * and Fail2Ban after the restore, so comparing them here would only show noise.
 */
export function tm3Part(printed: string): string {
  const lines = printed.split('\n').filter((l) => /^-P /.test(l) || /^-N TM3-/.test(l) || /(^| )--comment "?tm3"?( |$)/.test(l));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * Kernel rules nobody will make again after a restart: not tm3's (no tm3 comment), not Fail2Ban's
 * (its f2b- chains), and not found in the ADMIN SECTION, read plainly: every address, port,
 * interface, set and target the rule names must appear in it. A rule typed at a shell prompt
 * ends up here, and `restart --dry-run` says it goes away, so an admin can keep it first.
 */
export function handRules(printed: string, adminBody: string): string[] {
  // the options that name whom a rule is for (addresses, ranges, MACs, interfaces, ports, sets), as
  // iptables -S prints what an admin typed: names it would print as numbers are left out
  const values = (l: string) => [...l.matchAll(/(?:^| )(?:-s|-d|--dports?|--sports?|-i|-o|--match-set|--src-range|--dst-range|--mac-source|-j) (\S+)/g)]
    .map((m) => m[1].replace(/\/(?:32|128)$/, ''));
  // as a whole word: 203.0.113.9 is not in 203.0.113.90, nor port 22 in 2222
  const named = (v: string) => new RegExp(`(?<![A-Za-z0-9_.:,-])${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_.:,-])`, 'i').test(adminBody);
  return printed.split('\n').filter((l) => l.startsWith('-A ') && !/(^| )--comment "?tm3"?( |$)/.test(l)
    && !/^-A f2b-|(?: -j f2b-)/.test(l) && !values(l).every(named));
}
