import { expect } from 'chai';
import { verdict, cutOff, type Access } from '../../src/plan/reach.js';

// The lockout guard's model of the kernel: iptables -S lines and set members in, a verdict for a
// NEW tcp packet out. One helper, many one-line cases.
const T = '-m comment --comment tm3';
const base = [
  '-P INPUT DROP',
  `-A INPUT -i lo ${T} -j ACCEPT`,
  `-A INPUT -m set --match-set tm3-ban-4 src ${T} -j DROP`,
  `-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY ${T} -j ACCEPT`,
  `-A INPUT -s 10.0.0.0/8 ${T} -j ACCEPT`,
  `-A INPUT -p udp -m multiport --dports 10000:20000 ${T} -j ACCEPT`,
  `-A INPUT ${T} -j TM3-WHITELIST`,
  `-A TM3-WHITELIST -m set --match-set tm3-knock-4 src ${T} -j ACCEPT`,
  `-A TM3-WHITELIST -m set ! --match-set tm3-known-4 src ${T} -j RETURN`,
  `-A TM3-WHITELIST -m set --match-set tm3-all-4 src ${T} -j ACCEPT`,
  `-A TM3-WHITELIST -p tcp -m multiport --dports 22,9022 -m set --match-set tm3-ssh-4 src ${T} -j ACCEPT`,
];
// tm3-known-4 as planSets makes it, the union of the service sets, unless a case gives its own
const union = (sets: Record<string, string[]>) => Object.entries(sets).filter(([n]) => !/^tm3-(ban|knock)-/.test(n)).flatMap(([, m]) => m);
const access = (extra: string[] = [], sets: Record<string, string[]> = {}, lines = base): Access => ({ family: 4, lines: [...extra, ...lines], sets: new Map(Object.entries({ 'tm3-known-4': union(sets), ...sets })) });
const sees = (a: Access, addr: string, port = 22) => verdict(a, addr, 'tcp', port);

describe('lockout model (plan/reach)', () => {
  const cases: [string, Access, string, boolean, RegExp][] = [
    ['a stranger meets the DROP policy', access(), '203.0.113.9', false, /INPUT policy DROP/],
    ['a trusted network', access(), '10.1.2.3', true, /^trusted 10\.0\.0\.0\/8$/],
    ['an ssh entry', access([], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', true, /set tm3-ssh-4/],
    ['an ssh entry, on a port the service lacks', access([], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', false, /policy/],
    ['an all entry by network', access([], { 'tm3-all-4': ['192.0.2.0/24'] }), '192.0.2.77', true, /set tm3-all-4/],
    ['a ban beats the whitelist', access([], { 'tm3-all-4': ['192.0.2.0/24'], 'tm3-ban-4': ['192.0.2.77/32'] }), '192.0.2.77', false, /banned/],
    ["an admin's own rule is named as such", access(['-A INPUT -s 192.0.2.10/32 -p tcp -m tcp --dport 22 -j ACCEPT']), '192.0.2.10', true, /the rule '-A INPUT -s 192\.0\.2\.10\/32/],
    // red team: "only the office may SSH" must not read as a DROP of the office itself
    ['a negated source DROP spares the network it names', access(['-A INPUT ! -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j DROP'], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', true, /set tm3-ssh-4/],
    ['a negated source DROP drops everyone else', access(['-A INPUT ! -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j DROP'], { 'tm3-ssh-4': ['198.51.100.5/32'] }), '198.51.100.5', false, /not trusted|rule/],
    ['a rule with a match the model does not know is passed over, not guessed', access(['-A INPUT -p tcp -m recent --update --seconds 60 -j DROP'], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', true, /set tm3-ssh-4/],
    // red team, second pass: RETURN goes back to the caller; an interface match is no reason to pass a rule over
    ['a RETURN from an admin chain goes on in INPUT', access(['-N ADM', '-A INPUT -j ADM', '-A ADM -s 192.0.2.0/24 -j RETURN', '-A ADM -p tcp -m tcp --dport 22 -j DROP'], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', true, /set tm3-ssh-4/],
    ['without the RETURN the admin chain drops', access(['-N ADM', '-A INPUT -j ADM', '-A ADM -p tcp -m tcp --dport 22 -j DROP'], { 'tm3-ssh-4': ['192.0.2.10/32'] }), '192.0.2.10', false, /rule/],
    ['an admin rule on an interface counts', access(['-A INPUT -s 192.0.2.10/32 -i veth-s -p tcp -m tcp --dport 22 -j ACCEPT']), '192.0.2.10', true, /the rule/],
    ['a loopback-only rule does not', access(['-A INPUT -s 192.0.2.10/32 -i lo -j ACCEPT']), '192.0.2.10', false, /policy/],
    // the stranger's shortcut: out of the whitelist chain after one lookup in the union
    ['an address the union lacks leaves the whitelist chain, whatever a service set says', access([], { 'tm3-ssh-4': ['192.0.2.10/32'], 'tm3-known-4': [] }), '192.0.2.10', false, /policy/],
    ['a knock grant is honoured before the union is asked', access([], { 'tm3-knock-4': ['192.0.2.10/32'] }), '192.0.2.10', true, /set tm3-knock-4/],
    ["a stranger back in INPUT meets the admin's appended ACCEPT", access([], {}, [...base, '-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT']), '198.51.100.5', true, /the rule/],
    ['policy ACCEPT with no rules lets everyone in', access([], {}, ['-P INPUT ACCEPT']), '203.0.113.9', true, /policy ACCEPT/],
  ];
  for (const [what, a, addr, accepted, reason] of cases) {
    it(what, () => {
      const port = what.includes('lacks') ? 80 : 22;
      const v = sees(a, addr, port);
      expect(v.accepted, v.reason).to.equal(accepted);
      expect(v.reason).to.match(reason);
    });
  }

  it('cutOff names only admins that reached before and not after, per family', () => {
    const before = [access([], { 'tm3-ssh-4': ['192.0.2.10/32', '192.0.2.20/32'] }), { family: 6 as const, lines: ['-P INPUT DROP'], sets: new Map() }];
    const after = [access([], { 'tm3-ssh-4': ['192.0.2.20/32'] }), before[1]];
    const cuts = cutOff([{ address: '192.0.2.10', port: 22 }, { address: '192.0.2.20', port: 22 }, { address: '2001:db8::5', port: 22 }], before, after);
    expect(cuts.map((c) => c.admin.address)).to.deep.equal(['192.0.2.10']);
    expect(cuts[0].before).to.equal('set tm3-ssh-4');
  });

  // the shortcut with knocking on (issue 17, flood): RETURN unless in tm3-known or tm3-granted,
  // both negated in one rule, every grant rule after it
  describe('the stranger\'s RETURN with the grant union', () => {
    const granted = [
      ...base.filter((l) => !l.startsWith('-A TM3-WHITELIST')),
      `-A TM3-WHITELIST -m set ! --match-set tm3-known-4 src -m set ! --match-set tm3-granted-4 src ${T} -j RETURN`,
      `-A TM3-WHITELIST -m set --match-set tm3-knock-4 src ${T} -j ACCEPT`,
      `-A TM3-WHITELIST -p tcp -m multiport --dports 22,9022 -m set --match-set tm3-knock-ssh-4 src ${T} -j ACCEPT`,
      `-A TM3-WHITELIST -m set --match-set tm3-all-4 src ${T} -j ACCEPT`,
      `-A TM3-WHITELIST -p tcp -m multiport --dports 22,9022 -m set --match-set tm3-ssh-4 src ${T} -j ACCEPT`,
    ];
    const g = (sets: Record<string, string[]>) => access([], sets, granted);
    const grantCases: [string, Access, boolean, RegExp][] = [
      ['a whitelisted address the grant union lacks (both matches must hold to RETURN)', g({ 'tm3-ssh-4': ['192.0.2.10/32'] }), true, /set tm3-ssh-4/],
      ["a person's grant, in the union", g({ 'tm3-knock-ssh-4': ['192.0.2.10/32'], 'tm3-granted-4': ['192.0.2.10/32'] }), true, /set tm3-knock-ssh-4/],
      ['a grant the union lacks fails closed', g({ 'tm3-knock-4': ['192.0.2.10/32'] }), false, /policy/],
      ['a union member with no grant reaches nothing', g({ 'tm3-granted-4': ['192.0.2.10/32'] }), false, /policy/],
      ['a stranger', g({ 'tm3-granted-4': ['192.0.2.11/32'] }), false, /policy/],
    ];
    for (const [what, a, accepted, reason] of grantCases) {
      it(what, () => {
        const v = sees(a, '192.0.2.10');
        expect(v.accepted, v.reason).to.equal(accepted);
        expect(v.reason).to.match(reason);
      });
    }
  });
});
