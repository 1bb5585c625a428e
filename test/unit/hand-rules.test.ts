import { expect } from 'chai';
import { handRules } from '../../src/plan/rule-diff.js';

// What `tm3 restart --dry-run` says will go away: rules typed at a prompt, never tm3's,
// Fail2Ban's, or what the ADMIN SECTION makes again.
describe('handRules', () => {
  const printed = [
    '-P INPUT DROP',
    '-N TM3-WHITELIST',
    '-A INPUT -m comment --comment tm3 -j TM3-WHITELIST',
    '-A INPUT -s 203.0.113.9/32 -p tcp -m tcp --dport 8088 -j ACCEPT',
    '-A INPUT -s 198.51.100.4/32 -p udp -m udp --dport 5060 -j ACCEPT',
    '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd',
    '-A f2b-sshd -j RETURN',
    '-A INPUT -i eth9 -j DROP',
  ].join('\n');

  it('names a hand rule and keeps quiet about tm3, Fail2Ban and what the ADMIN SECTION makes', () => {
    const admin = '$IPT -A INPUT -s 198.51.100.4 -p udp --dport 5060 -j ACCEPT\n';
    expect(handRules(printed, admin)).to.deep.equal([
      '-A INPUT -s 203.0.113.9/32 -p tcp -m tcp --dport 8088 -j ACCEPT',
      '-A INPUT -i eth9 -j DROP',
    ]);
  });

  it('a rule whose address the ADMIN SECTION names, but not its port, still goes away', () => {
    expect(handRules(printed, 'iptables -A INPUT -s 203.0.113.9 -j ACCEPT\niptables -A INPUT -i eth9 -j DROP\n'))
      .to.deep.equal(['-A INPUT -s 203.0.113.9/32 -p tcp -m tcp --dport 8088 -j ACCEPT', '-A INPUT -s 198.51.100.4/32 -p udp -m udp --dport 5060 -j ACCEPT']);
  });

  it('matches whole words only, and reads the matches that say whom a rule is for (red team)', () => {
    const typed = [
      '-A INPUT -s 203.0.113.9/32 -p tcp -m tcp --dport 22 -j ACCEPT',
      '-A INPUT -m mac --mac-source 52:54:00:12:34:56 -j ACCEPT',
      '-A INPUT -m iprange --src-range 198.51.100.1-198.51.100.9 -j ACCEPT',
    ];
    // an admin section that names 203.0.113.90 and port 2222 makes none of these
    expect(handRules(typed.join('\n'), '$IPT -A INPUT -s 203.0.113.90 -p tcp --dport 2222 -j ACCEPT\n')).to.deep.equal(typed);
    // one that makes them, spelt as an admin types them
    const admin = 'iptables -A INPUT -s 203.0.113.9/32 -p tcp --dport 22 -j ACCEPT\niptables -A INPUT -m mac --mac-source 52:54:00:12:34:56 -j ACCEPT\niptables -A INPUT -m iprange --src-range 198.51.100.1-198.51.100.9 -j ACCEPT\n';
    expect(handRules(typed.join('\n'), admin)).to.deep.equal([]);
  });
});
