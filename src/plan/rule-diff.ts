/**
 * tm3's part of `iptables -S`: the policies, tm3's chains and every rule tm3 wrote (they all carry
 * the comment tm3). The ADMIN SECTION's and Fail2Ban's rules are made again by iptables-custom
 * and Fail2Ban after the restore, so comparing them here would only show noise.
 */
export function tm3Part(printed: string): string {
  const lines = printed.split('\n').filter((l) => /^-P /.test(l) || /^-N TM3-/.test(l) || /(^| )--comment "?tm3"?( |$)/.test(l));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
